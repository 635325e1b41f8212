import { defineConfig } from '@playwright/test';

// The lab is a static page: Python's http.server serves the release build from dist/.
// Debian's Chromium is used (browser downloads are not possible here); the flags keep it from
// reaching for the network on its own.
export default defineConfig({
  testDir: 'tests/e2e',
  outputDir: 'test-results',
  timeout: 60_000,
  retries: 0,
  workers: 1,
  reporter: [['list']],
  use: {
    baseURL: 'http://127.0.0.1:8765/',
    screenshot: 'on',
    launchOptions: {
      executablePath: '/usr/bin/chromium',
      args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    },
  },
  webServer: {
    command: 'python3 -m http.server 8765 --bind 127.0.0.1 --directory dist',
    url: 'http://127.0.0.1:8765/index.html',
    reuseExistingServer: false,
    stdout: 'ignore',
    stderr: 'ignore',
  },
});
