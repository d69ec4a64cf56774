fn main() {
    println!("meter-agent {}", env!("CARGO_PKG_VERSION"));
}
