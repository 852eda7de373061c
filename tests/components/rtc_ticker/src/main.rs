//! Test component, a small device driver: owns the PC's CMOS real-time clock (MC146818) through
//! its I/O ports (0x70 index, 0x71 data) and its interrupt (ISA IRQ 8), turns on the periodic
//! interrupt at [`RATE_HZ`] and counts [`TICKS`] of them, reading register C after each (the RTC
//! raises no further interrupt until it is read) and acknowledging the IRQ. Then it turns the
//! periodic interrupt off again and ends the system with 0. An alarm ends it with 1 if the
//! interrupts stop coming.
#![no_std]
#![no_main]

use rampart_runtime::{clock, exit_system, ChannelSet, Handler, IoPorts, Irq};

rampart_runtime::bindings!();

const TICKS: u32 = 10;
/// Register A's rate select: 32768 Hz >> (rate - 1), so 10 is 64 Hz.
const RATE: u8 = 10;
const RATE_HZ: u32 = 64;
/// How long the ten interrupts may take, at most.
const PATIENCE_NS: u64 = 5_000_000_000;

const RTC: IoPorts = ioports::IOPORT_0;
const RTC_IRQ: Irq = irqs::IRQ_1;

/// Register indices; bit 7 of the index port, set, keeps NMIs masked while we talk to the RTC.
const REG_A: u8 = 0x0a;
const REG_B: u8 = 0x0b;
const REG_C: u8 = 0x0c;
const NMI_OFF: u8 = 0x80;
/// Register B: periodic interrupt enable.
const PIE: u8 = 1 << 6;
/// Register C: periodic interrupt flag (and IRQF, bit 7, any enabled flag).
const PF: u8 = 1 << 6;

fn read(reg: u8) -> u8 {
    RTC.out8(0, NMI_OFF | reg).expect("index port");
    RTC.in8(1).expect("data port")
}

fn write(reg: u8, value: u8) {
    RTC.out8(0, NMI_OFF | reg).expect("index port");
    RTC.out8(1, value).expect("data port");
}

struct RtcTicker {
    ticks: u32,
    started_ns: u64,
}

impl Handler for RtcTicker {
    fn notified(&mut self, channels: ChannelSet) {
        if channels.contains(RTC_IRQ.id()) {
            // Reading C clears the flags and lets the RTC raise its line again.
            let c = read(REG_C);
            if c & PF != 0 {
                self.ticks += 1;
            }
            RTC_IRQ.ack();
            if self.ticks == TICKS {
                write(REG_B, read(REG_B) & !PIE);
                let ms = (clock::now_ns() - self.started_ns) / 1_000_000;
                defmt::info!("{} RTC interrupts at {} Hz in {} ms", TICKS, RATE_HZ, ms);
                exit_system(0);
            }
        }
        if channels.alarm() {
            defmt::error!("only {} of {} RTC interrupts came in {} ms", self.ticks, TICKS, PATIENCE_NS / 1_000_000);
            exit_system(1);
        }
    }
}

fn init() -> RtcTicker {
    // Out of range: refused before any port is touched.
    assert!(RTC.in8(2).is_err() && RTC.out16(1, 0).is_err());
    write(REG_A, (read(REG_A) & 0xf0) | RATE);
    let _ = read(REG_C);
    write(REG_B, read(REG_B) | PIE);
    let started_ns = clock::now_ns();
    clock::set_alarm(started_ns + PATIENCE_NS);
    defmt::info!("RTC periodic interrupt on at {} Hz", RATE_HZ);
    RtcTicker { ticks: 0, started_ns }
}

rampart_runtime::pd_main!(init);
