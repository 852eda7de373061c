/work/main/runtime/sel4-root/target/release/deps/rampart_spec-14468ce3955d7a53.d: /work/main/protocols/spec/src/lib.rs

/work/main/runtime/sel4-root/target/release/deps/librampart_spec-14468ce3955d7a53.rlib: /work/main/protocols/spec/src/lib.rs

/work/main/runtime/sel4-root/target/release/deps/librampart_spec-14468ce3955d7a53.rmeta: /work/main/protocols/spec/src/lib.rs

/work/main/protocols/spec/src/lib.rs:
