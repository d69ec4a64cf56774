fn main() {
    println!("sunmesh {}", env!("CARGO_PKG_VERSION"));
}
