/work/main/runtime/sel4-root/target/release/deps/crypto_common-64d3043577cf3eae.d: /root/.cargo/registry/src/index.crates.io-1949cf8c6b5b557f/crypto-common-0.1.7/src/lib.rs

/work/main/runtime/sel4-root/target/release/deps/libcrypto_common-64d3043577cf3eae.rlib: /root/.cargo/registry/src/index.crates.io-1949cf8c6b5b557f/crypto-common-0.1.7/src/lib.rs

/work/main/runtime/sel4-root/target/release/deps/libcrypto_common-64d3043577cf3eae.rmeta: /root/.cargo/registry/src/index.crates.io-1949cf8c6b5b557f/crypto-common-0.1.7/src/lib.rs

/root/.cargo/registry/src/index.crates.io-1949cf8c6b5b557f/crypto-common-0.1.7/src/lib.rs:
