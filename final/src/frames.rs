//! Docker's multiplexed stream: stdout and stderr on one connection.
//!
//! Without a terminal, a container has two output streams, and an attach
//! or `logs` connection carries both. Docker frames each chunk with 8
//! bytes: the stream (0 stdin, 1 stdout, 2 stderr), three zero bytes, and
//! the payload's length as a big-endian u32. With a terminal there is one
//! stream and no framing: the bytes are sent as they are.
//!
//! The shim speaks the same framing to the daemon, with one more kind for
//! the terminal's size ([`RESIZE`]), and an empty stdin frame for "close
//! stdin".

use std::io::{self, Read, Write};

pub const STDIN: u8 = 0;
pub const STDOUT: u8 = 1;
pub const STDERR: u8 = 2;
/// Shim only: the payload is `HEIGHT WIDTH` in ASCII.
pub const RESIZE: u8 = 9;

// ANCHOR: header
/// The 8-byte header of a frame of `len` bytes on `stream`.
pub fn header(stream: u8, len: usize) -> [u8; 8] {
    let len = (len as u32).to_be_bytes();
    [stream, 0, 0, 0, len[0], len[1], len[2], len[3]]
}
// ANCHOR_END: header

/// Writes one frame.
pub fn write(out: &mut impl Write, stream: u8, data: &[u8]) -> io::Result<()> {
    let mut frame = Vec::with_capacity(8 + data.len());
    frame.extend_from_slice(&header(stream, data.len()));
    frame.extend_from_slice(data);
    out.write_all(&frame)?;
    out.flush()
}

/// Reads one frame; `None` at the end of the stream.
pub fn read(input: &mut impl Read) -> io::Result<Option<(u8, Vec<u8>)>> {
    let mut head = [0u8; 8];
    match input.read_exact(&mut head) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(None),
        Err(e) => return Err(e),
    }
    let len = u32::from_be_bytes([head[4], head[5], head[6], head[7]]) as usize;
    let mut data = vec![0u8; len];
    input.read_exact(&mut data)?;
    Ok(Some((head[0], data)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_round_trip() {
        let mut wire = Vec::new();
        write(&mut wire, STDOUT, b"hello\n").unwrap();
        write(&mut wire, STDERR, b"").unwrap();
        assert_eq!(&wire[..8], &[1, 0, 0, 0, 0, 0, 0, 6]);
        let mut input = &wire[..];
        assert_eq!(read(&mut input).unwrap(), Some((1, b"hello\n".to_vec())));
        assert_eq!(read(&mut input).unwrap(), Some((2, Vec::new())));
        assert_eq!(read(&mut input).unwrap(), None);
    }
}
