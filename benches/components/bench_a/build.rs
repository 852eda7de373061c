//! Generates this component's bindings from the system file (see rampart_sdf::bindings).
fn main() {
    rampart_sdf::bindings::build_script();
}
