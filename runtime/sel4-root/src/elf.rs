//! The part of an ELF file the initializer loads: the entry point and the `PT_LOAD` segments of
//! a static x86_64 executable. Every offset is checked against the file; a malformed program is
//! an error naming what is wrong, never a panic.

/// One loadable segment.
#[derive(Clone, Copy, Debug)]
pub struct Segment<'a> {
    pub vaddr: u64,
    pub mem_bytes: u64,
    /// The bytes in the file (`p_filesz`, at most `mem_bytes`); the rest is zero.
    pub data: &'a [u8],
    /// Writable (`PF_W`). Readability is implied; execution cannot be withheld (this kernel
    /// never sets the XD bit in user mappings).
    pub write: bool,
}

/// A parsed program.
pub struct Program<'a> {
    bytes: &'a [u8],
    pub entry: u64,
    phoff: usize,
    phentsize: usize,
    phnum: usize,
}

const PT_LOAD: u32 = 1;
const PT_INTERP: u32 = 3;
const PT_DYNAMIC: u32 = 2;
const PF_W: u32 = 2;

fn u16_at(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_le_bytes(b.get(at..at + 2)?.try_into().ok()?))
}
fn u32_at(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes(b.get(at..at + 4)?.try_into().ok()?))
}
fn u64_at(b: &[u8], at: usize) -> Option<u64> {
    Some(u64::from_le_bytes(b.get(at..at + 8)?.try_into().ok()?))
}

impl<'a> Program<'a> {
    pub fn parse(bytes: &'a [u8]) -> Result<Program<'a>, &'static str> {
        if bytes.get(..4) != Some(b"\x7fELF") {
            return Err("not an ELF file");
        }
        if bytes.get(4) != Some(&2) || bytes.get(5) != Some(&1) {
            return Err("not a 64-bit little-endian ELF file");
        }
        const ET_EXEC: u16 = 2;
        const EM_X86_64: u16 = 62;
        if u16_at(bytes, 16) != Some(ET_EXEC) {
            return Err("not a static executable (ET_EXEC)");
        }
        if u16_at(bytes, 18) != Some(EM_X86_64) {
            return Err("not an x86_64 program");
        }
        let entry = u64_at(bytes, 24).ok_or("truncated ELF header")?;
        let phoff = u64_at(bytes, 32).ok_or("truncated ELF header")? as usize;
        let phentsize = u16_at(bytes, 54).ok_or("truncated ELF header")? as usize;
        let phnum = u16_at(bytes, 56).ok_or("truncated ELF header")? as usize;
        if phentsize < 56 || phoff.checked_add(phentsize * phnum).is_none_or(|end| end > bytes.len()) {
            return Err("program headers outside the file");
        }
        let p = Program { bytes, entry, phoff, phentsize, phnum };
        for i in 0..phnum {
            match u32_at(bytes, p.phoff + i * phentsize) {
                Some(PT_INTERP) => return Err("it asks for a dynamic loader (PT_INTERP)"),
                Some(PT_DYNAMIC) => return Err("it has a dynamic section"),
                _ => {}
            }
        }
        // Check every segment once, so that `segments` can skip malformed ones silently.
        let mut n = 0;
        for i in 0..phnum {
            if p.segment(i)?.is_some() {
                n += 1;
            }
        }
        if n == 0 {
            return Err("no loadable segment");
        }
        Ok(p)
    }

    fn segment(&self, i: usize) -> Result<Option<Segment<'a>>, &'static str> {
        let h = self.phoff + i * self.phentsize;
        let b = self.bytes;
        if u32_at(b, h) != Some(PT_LOAD) {
            return Ok(None);
        }
        let bad = "a PT_LOAD segment lies outside the file or the address space";
        let flags = u32_at(b, h + 4).ok_or(bad)?;
        let offset = u64_at(b, h + 8).ok_or(bad)? as usize;
        let vaddr = u64_at(b, h + 16).ok_or(bad)?;
        let file_bytes = u64_at(b, h + 32).ok_or(bad)? as usize;
        let mem_bytes = u64_at(b, h + 40).ok_or(bad)?;
        if file_bytes as u64 > mem_bytes || vaddr.checked_add(mem_bytes).is_none() {
            return Err(bad);
        }
        let data = b.get(offset..offset.checked_add(file_bytes).ok_or(bad)?).ok_or(bad)?;
        Ok(Some(Segment { vaddr, mem_bytes, data, write: flags & PF_W != 0 }))
    }

    /// The loadable segments, in file order.
    pub fn segments(&self) -> impl Iterator<Item = Segment<'a>> + '_ {
        (0..self.phnum).filter_map(|i| self.segment(i).ok().flatten())
    }

    /// The value of the symbol `name` in the file's symbol table (`SHT_SYMTAB`), if there is one.
    pub fn symbol(&self, name: &[u8]) -> Option<u64> {
        const SHT_SYMTAB: u32 = 2;
        let b = self.bytes;
        let shoff = u64_at(b, 40)? as usize;
        let shentsize = u16_at(b, 58)? as usize;
        let shnum = u16_at(b, 60)? as usize;
        if shentsize < 64 {
            return None;
        }
        for i in 0..shnum {
            let h = shoff.checked_add(i.checked_mul(shentsize)?)?;
            if u32_at(b, h + 4)? != SHT_SYMTAB {
                continue;
            }
            let off = u64_at(b, h + 24)? as usize;
            let size = u64_at(b, h + 32)? as usize;
            let link = u32_at(b, h + 40)? as usize;
            let entsize = (u64_at(b, h + 56)? as usize).max(24);
            let sh = shoff.checked_add(link.checked_mul(shentsize)?)?;
            let str_off = u64_at(b, sh + 24)? as usize;
            let str_size = u64_at(b, sh + 32)? as usize;
            let strtab = b.get(str_off..str_off.checked_add(str_size)?)?;
            for k in 0..size / entsize {
                let e = off.checked_add(k * entsize)?;
                let n = u32_at(b, e)? as usize;
                let rest = strtab.get(n..)?;
                let end = rest.iter().position(|&c| c == 0)?;
                if &rest[..end] == name {
                    return u64_at(b, e + 8);
                }
            }
        }
        None
    }
}
