/work/main/runtime/sel4-root/target/release/deps/rampart_sel4_root-affb6c0d47c208d3.d: src/main.rs src/abi.rs src/alloc_bump.rs src/builder.rs src/elf.rs src/layout.rs src/mem.rs src/monitor.rs src/sys.rs src/syscalls.rs src/timer.rs /work/main/runtime/sel4-root/target/release/build/rampart-sel4-root-1164a2da6253f98c/out/system.img

/work/main/runtime/sel4-root/target/release/deps/rampart_sel4_root-affb6c0d47c208d3: src/main.rs src/abi.rs src/alloc_bump.rs src/builder.rs src/elf.rs src/layout.rs src/mem.rs src/monitor.rs src/sys.rs src/syscalls.rs src/timer.rs /work/main/runtime/sel4-root/target/release/build/rampart-sel4-root-1164a2da6253f98c/out/system.img

src/main.rs:
src/abi.rs:
src/alloc_bump.rs:
src/builder.rs:
src/elf.rs:
src/layout.rs:
src/mem.rs:
src/monitor.rs:
src/sys.rs:
src/syscalls.rs:
src/timer.rs:
/work/main/runtime/sel4-root/target/release/build/rampart-sel4-root-1164a2da6253f98c/out/system.img:

# env-dep:OUT_DIR=/work/main/runtime/sel4-root/target/release/build/rampart-sel4-root-1164a2da6253f98c/out
