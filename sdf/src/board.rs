//! Boards: the machines a system is built for.
//!
//! A board is a small TOML file in `images/boards/` (name, architecture, CPU count, description);
//! the architecture decides what a system file may say (page sizes, IRQ forms, I/O ports, the
//! user address window). Every file present in `images/boards/` when this crate is built is
//! compiled in, so adding a board is adding a file. Later issues add kernel configuration and
//! QEMU command lines to the same files.

use rampart_spec::Arch;
use serde::Deserialize;

/// The board used when none is named.
pub const DEFAULT_BOARD: &str = "qemu-x86_64";

/// Most CPUs a board may declare (the width of the `cpu` attribute's check).
pub const MAX_BOARD_CPUS: u16 = 256;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Board {
    pub name: String,
    pub arch: Arch,
    pub cpus: u16,
    pub description: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct BoardFile {
    name: String,
    arch: String,
    cpus: u16,
    description: String,
}

include!(concat!(env!("OUT_DIR"), "/boards.rs"));

impl Board {
    /// Parse a board file.
    pub fn from_toml(text: &str) -> Result<Board, String> {
        let f: BoardFile = toml::from_str(text).map_err(|e| e.to_string())?;
        let arch = match f.arch.as_str() {
            "x86_64" => Arch::X86_64,
            "aarch64" => Arch::Aarch64,
            "armv7" => Arch::Armv7,
            other => return Err(format!("unknown arch '{other}': expected x86_64, aarch64 or armv7")),
        };
        if f.cpus == 0 || f.cpus > MAX_BOARD_CPUS {
            return Err(format!("cpus must be from 1 to {MAX_BOARD_CPUS}"));
        }
        Ok(Board { name: f.name, arch, cpus: f.cpus, description: f.description })
    }

    /// Every board compiled in, sorted by name.
    pub fn all() -> Vec<Board> {
        let mut boards: Vec<Board> = BOARD_FILES
            .iter()
            .map(|(file, text)| {
                Board::from_toml(text).unwrap_or_else(|e| panic!("images/boards/{file} is invalid: {e}"))
            })
            .collect();
        boards.sort_by(|a, b| a.name.cmp(&b.name));
        boards
    }

    /// The board with this name, or an error listing the boards there are.
    pub fn named(name: &str) -> Result<Board, String> {
        let all = Board::all();
        all.iter().find(|b| b.name == name).cloned().ok_or_else(|| {
            let names: Vec<&str> = all.iter().map(|b| b.name.as_str()).collect();
            format!("unknown board '{name}': the boards are {}", names.join(", "))
        })
    }

    pub fn default_board() -> Board {
        Board::named(DEFAULT_BOARD).expect("the default board's file is in images/boards")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_board_file_parses_and_names_itself_after_its_file() {
        let all = Board::all();
        assert!(all.len() >= 3);
        for (file, text) in BOARD_FILES {
            let b = Board::from_toml(text).unwrap();
            assert_eq!(format!("{}.toml", b.name), *file);
        }
        assert_eq!(Board::default_board().arch, Arch::X86_64);
        assert_eq!(Board::named("qemu-sabrelite").unwrap().arch, Arch::Armv7);
    }

    #[test]
    fn an_unknown_board_lists_the_known_ones() {
        let e = Board::named("pdp11").unwrap_err();
        assert!(e.contains("unknown board 'pdp11'") && e.contains("qemu-x86_64"), "{e}");
    }

    #[test]
    fn bad_board_files_are_refused() {
        assert!(Board::from_toml("name='x'\narch='mips'\ncpus=1\ndescription=''").is_err());
        assert!(Board::from_toml("name='x'\narch='armv7'\ncpus=0\ndescription=''").is_err());
        assert!(Board::from_toml("name='x'\narch='armv7'\ncpus=1\ndescription=''\nram=3").is_err());
    }
}
