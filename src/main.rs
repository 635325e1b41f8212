fn main() {
    kafka_delivery_lab::start();
}
