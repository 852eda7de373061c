/*
 * seL4 5.0.0 kernel configuration for the qemu-x86_64 board (QEMU `pc`, TCG, one CPU).
 *
 * Put first on the kernel's include path by `rampart build` (src/sel4/kernel.rs), in place of the
 * tree's include/plat/pc99/autoconf.h, which is a test configuration (x2APIC, IOMMU, PCID) that
 * halts under TCG. Debug build with kernel printing (seL4_DebugPutChar), non-MCS, xAPIC, one
 * I/O APIC, no IOMMU, no VT-x, no PCID (TCG has no invpcid). 1 GiB pages and the FSGSBASE
 * instructions need QEMU's `-cpu qemu64,+pdpe1gb,+fsgsbase` (images/boards/qemu-x86_64.toml).
 *
 * The kernel's Makefile does not track this file: rampart rebuilds from scratch when it changes.
 */
#define AUTOCONF_INCLUDED
#define CONFIG_ARCH_X86 1
#define CONFIG_ARCH_X86_64 1
#define CONFIG_PLAT_PC99 1
#define CONFIG_WORD_SIZE 64
#define CONFIG_HAVE_FPU 1
#define CONFIG_ARCH_X86_GENERIC 1
#define CONFIG_DEBUG_BUILD 1
#define CONFIG_PRINTING 1
#define CONFIG_ROOT_CNODE_SIZE_BITS 16
#define CONFIG_TIMER_TICK_MS 2
#define CONFIG_TIME_SLICE 5
#define CONFIG_RETYPE_FAN_OUT_LIMIT 256
#define CONFIG_MAX_NUM_WORK_UNITS_PER_PREEMPTION 100
#define CONFIG_MAX_NUM_BOOTINFO_UNTYPED_CAPS 166
#define CONFIG_FASTPATH 1
#define CONFIG_NUM_DOMAINS 1
#define CONFIG_NUM_PRIORITIES 256
#define CONFIG_MAX_NUM_NODES 1
#define CONFIG_CACHE_LN_SZ 64
#define CONFIG_KERNEL_STACK_BITS 12
#define CONFIG_FPU_MAX_RESTORES_SINCE_SWITCH 64
#define CONFIG_IRQ_IOAPIC 1
#define CONFIG_MAX_NUM_IOAPIC 1
#define CONFIG_XAPIC 1
#define CONFIG_SYSCALL 1
#define CONFIG_FXSAVE 1
#define CONFIG_XSAVE_SIZE 512
#define CONFIG_MULTIBOOT_GRAPHICS_MODE_NONE 1
#define CONFIG_HUGE_PAGE 1
#define CONFIG_FSGSBASE_INST 1
