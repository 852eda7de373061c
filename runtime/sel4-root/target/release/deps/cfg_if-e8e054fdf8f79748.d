/work/main/runtime/sel4-root/target/release/deps/cfg_if-e8e054fdf8f79748.d: /root/.cargo/registry/src/index.crates.io-1949cf8c6b5b557f/cfg-if-1.0.5/src/lib.rs

/work/main/runtime/sel4-root/target/release/deps/libcfg_if-e8e054fdf8f79748.rlib: /root/.cargo/registry/src/index.crates.io-1949cf8c6b5b557f/cfg-if-1.0.5/src/lib.rs

/work/main/runtime/sel4-root/target/release/deps/libcfg_if-e8e054fdf8f79748.rmeta: /root/.cargo/registry/src/index.crates.io-1949cf8c6b5b557f/cfg-if-1.0.5/src/lib.rs

/root/.cargo/registry/src/index.crates.io-1949cf8c6b5b557f/cfg-if-1.0.5/src/lib.rs:
