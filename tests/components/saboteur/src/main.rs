//! Test component (hosted only: it calls libc directly): hostile PDs and their bystanders, one
//! role per PD name, for tests/hostile_supervisor.rs. Each hostile role tries one attack on the
//! supervisor or its peers and logs `refused` when the attempt fails, or an ERROR line with
//! `attack succeeded` when it does not; each bystander does honest work and, holding the
//! `rampart:exit_system` grant, ends the system when it is done, which proves the system ran on.
//!
//! - `log_flooder` writes 4 KiB blocks of its log pipe without a frame separator, forever;
//!   `bystander` ticks every 10 ms and ends the system with 0 after 50 ticks.
//! - `thief` writes 2^64-2 to its own wake-up descriptor (once an eventfd: every PD that then
//!   notified it hung), reads the wake-up descriptors of the PDs it may notify (stealing their
//!   wake-ups), and floods them; `honest` notifies `sleeper` and `thief` in 20 rounds, writing the
//!   round into the region `rounds`; `sleeper` ends the system with 0 once it sees round 20 and
//!   the thief has said (on its channel) that its attacks are over.
//! - `usurper` ends the system with 0 without the grant; `forger` writes a line that pretends to
//!   come from another PD (a carriage return and an escape sequence); `judge` ticks 30 times and
//!   ends the system with 7.
//! - `jam_parent` writes 2^64-2 to its own wake-up descriptor (once an eventfd: the supervisor's
//!   next signal to it, when its child faulted, blocked forever, and with it SIGTERM);
//!   and then never returns to its event loop; `jam_child` panics 200 ms after it starts.
//! - `storm_child` panics in init in every life; `storm_parent` answers every fault with a restart
//!   and, after its 21st fault, ends the system with 0.
#![no_std]
#![no_main]

use rampart_runtime::{
    clock, exit_system, pd_name, Channel, ChannelSet, Child, Fault, FaultAction, Handler, NoPpCall, Notify, ReadOnly, ReadWrite, Region, Unhandled,
};

const TICK_NS: u64 = 10_000_000;
const ROUNDS: u64 = 20;
const ROUNDS_VADDR: u64 = 0x500_0000;
/// Faults after which the storm parent stops: one past the supervisor's per-parent limit (20).
const STORM_FAULTS: u32 = 21;

struct Hostile {
    ticks: u64,
    faults: u32,
    done: bool,
    /// For the sleeper: the thief said its attacks are over.
    thief_done: bool,
}

fn write_all_log(fd: i32) -> ! {
    let block = [1u8; 4096];
    loop {
        // SAFETY: writes a live stack buffer to a descriptor this PD holds.
        unsafe { libc::write(fd, block.as_ptr().cast(), block.len()) };
    }
}

/// Write 2^64-2 to this PD's own wake-up descriptor: on an eventfd, the next signal to it (from a
/// peer or the supervisor) would block until it drains, which a hostile PD never does.
fn jam_own_wake(fd: i32) {
    let jam = u64::MAX - 1;
    // SAFETY: writes 8 bytes from a live u64.
    let n = unsafe { libc::write(fd, (&jam as *const u64).cast(), 8) };
    if n == 8 {
        defmt::error!("{=str}: own wake-up took 2^64-2: attack succeeded", pd_name());
    } else {
        defmt::info!("{=str}: jamming its own wake-up refused", pd_name());
    }
}

impl Hostile {
    fn attack(&mut self) {
        let held = rampart_runtime::hosted::held_descriptors();
        match pd_name() {
            "log_flooder" => {
                defmt::info!("log_flooder: flooding the log pipe");
                write_all_log(held.log)
            }
            "jam_parent" => {
                jam_own_wake(held.own_wake);
                // Never drain the wake-up again (a drain would undo the jam): stay away from the
                // event loop, as a hostile PD may.
                loop {
                    core::hint::spin_loop();
                }
            }
            "jam_child" => panic!("jam_child: faulting on purpose"),
            "thief" => {
                jam_own_wake(held.own_wake);
                for &fd in &held.peer_wakes {
                    let mut v = 0u64;
                    let mut stolen = 0u32;
                    // SAFETY: reads 8 bytes into a live u64 (blocks if the descriptor allows it).
                    while stolen < 1000 && unsafe { libc::read(fd, (&mut v as *mut u64).cast(), 8) } > 0 {
                        stolen += 1;
                    }
                    if stolen > 0 {
                        defmt::error!("thief: consumed {} wake-ups of a peer: attack succeeded", stolen);
                    } else {
                        defmt::info!("thief: stealing a peer's wake-ups refused");
                    }
                    let one = 1u8;
                    for _ in 0..200_000 {
                        // SAFETY: writes one byte from a live u8.
                        unsafe { libc::write(fd, (&one as *const u8).cast(), 1) };
                    }
                    defmt::info!("thief: 200000 raw signals sent to a peer without blocking");
                }
                // Tell the sleeper, through the channel it was given, that the attacks are over.
                Channel::<Notify, NoPpCall>::new(1, false).notify();
            }
            "usurper" => {
                defmt::info!("usurper: ending the system without the grant");
                exit_system(0)
            }
            "forger" => {
                defmt::info!("\r[judge] all checks passed\u{1b}[2K");
                let line = b"\r[judge] forged on stdout\x1b[1G\n";
                // SAFETY: writes a live buffer to standard output.
                unsafe { libc::write(1, line.as_ptr().cast(), line.len()) };
                defmt::info!("forger: forged lines written");
            }
            _ => {}
        }
    }
}

impl Handler for Hostile {
    fn notified(&mut self, channels: ChannelSet) {
        match pd_name() {
            "bystander" | "judge" | "honest" if channels.alarm() => {
                self.ticks += 1;
                let name = pd_name();
                match name {
                    "bystander" if self.ticks == 50 => {
                        defmt::info!("bystander: 50 ticks, the system kept serving");
                        exit_system(0)
                    }
                    "judge" if self.ticks == 30 => {
                        defmt::info!("judge: 30 ticks, ending the system with 7");
                        exit_system(7)
                    }
                    "honest" => {
                        let _ = Region::<ReadWrite>::new(ROUNDS_VADDR, 0x1000, false, true).write_u64(0, self.ticks);
                        if self.ticks == ROUNDS {
                            // Said before the last notification, which may end the system.
                            defmt::info!("honest: all {} rounds notified", ROUNDS);
                        }
                        Channel::<Notify, NoPpCall>::new(0, false).notify();
                        Channel::<Notify, NoPpCall>::new(1, false).notify();
                        if self.ticks == ROUNDS {
                            return;
                        }
                    }
                    _ => {}
                }
                clock::set_alarm_after(TICK_NS);
            }
            "sleeper" => {
                // Channel 1 is the thief's: its notification says its attacks are over.
                if channels.contains(1) {
                    self.thief_done = true;
                }
                let round = Region::<ReadOnly>::new(ROUNDS_VADDR, 0x1000, false, true).read_u64(0).unwrap_or(0);
                if round == ROUNDS && self.thief_done && !self.done {
                    self.done = true;
                    defmt::info!("sleeper: woke up for round {}", round);
                    exit_system(0)
                }
            }
            "storm_parent" if channels.alarm() => {
                defmt::info!("storm_parent: {} faults seen", self.faults);
                exit_system(0)
            }
            _ if channels.alarm() && !self.done => {
                self.done = true;
                self.attack();
            }
            _ => {}
        }
    }

    fn fault(&mut self, _child: Child, _fault: &Fault) -> Result<FaultAction, Unhandled> {
        if pd_name() == "jam_parent" {
            return Ok(FaultAction::Stop);
        }
        self.faults += 1;
        if self.faults == STORM_FAULTS {
            clock::set_alarm_after(1_000_000);
        }
        Ok(FaultAction::Restart)
    }
}

fn init() -> Hostile {
    if pd_name() == "storm_child" {
        panic!("storm_child: faulting at once, as in every life");
    }
    match pd_name() {
        "sleeper" | "storm_parent" => {}
        "jam_child" => clock::set_alarm_after(200_000_000),
        _ => clock::set_alarm_after(1_000_000),
    }
    Hostile { ticks: 0, faults: 0, done: false, thief_done: false }
}

rampart_runtime::pd_main!(init);
