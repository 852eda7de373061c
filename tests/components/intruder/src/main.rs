//! Test component (hosted only: it calls libc to attempt system calls): after init, tries the
//! one thing its PD name says, none of which it was given. Each attempt must stop it. Under any
//! other name it is a bystander that tries nothing (and handles no calls).
#![no_std]
#![no_main]

use rampart_runtime::{clock, pd_name, Channel, ChannelSet, Handler, Message, NoNotify, NoPpCall, Notify, PpCall, ReadWrite, Region};

struct Intruder {
    tried: bool,
}

impl Intruder {
    fn attempt(&mut self) {
        self.tried = true;
        let name = pd_name();
        const KNOWN: [&str; 5] = ["notify_intruder", "call_intruder", "write_intruder", "open_intruder", "socket_intruder"];
        if !KNOWN.contains(&name) {
            return; // a bystander: tries nothing
        }
        defmt::info!("{=str}: trying", name);
        match name {
            // Channel 0 exists, but this end may not notify; forge a notifying channel value.
            "notify_intruder" => Channel::<Notify, NoPpCall>::new(0, false).notify(),
            "call_intruder" => {
                let _ = Channel::<NoNotify, PpCall>::new(9, false).pp_call(&Message::new(1));
            }
            // The region is mapped read-only here; forge a writable view of it.
            "write_intruder" => {
                let _ = Region::<ReadWrite>::new(0x400_0000, 0x1000, false, true).write_u64(0, 1);
            }
            // SAFETY: plain system calls with valid arguments; seccomp must kill the process.
            "open_intruder" => unsafe {
                libc::open(c"/etc/hostname".as_ptr(), libc::O_RDONLY);
            },
            // SAFETY: as above.
            "socket_intruder" => unsafe {
                libc::socket(libc::AF_INET, libc::SOCK_STREAM, 0);
            },
            _ => {}
        }
        defmt::error!("{=str}: the attempt was not stopped", name);
    }
}

impl Handler for Intruder {
    fn notified(&mut self, channels: ChannelSet) {
        if channels.alarm() && !self.tried {
            self.attempt();
        }
    }
}

fn init() -> Intruder {
    // Try from the event loop, after init: that is when the PD is confined.
    clock::set_alarm_after(1_000_000);
    Intruder { tried: false }
}

rampart_runtime::pd_main!(init);
