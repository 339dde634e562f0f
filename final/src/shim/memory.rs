//! What a shim does to cost little memory while its container runs.
//!
//! A machine runs one shim per container, for as long as the container
//! runs, so every page a shim keeps is paid once per container. Most of
//! what a shim touches, it touches while it sets the container up (the
//! spec parsed, the root filesystem mounted, the network plugged): memory
//! it never needs again. Two places keep such memory after it is freed:
//!
//! - the C allocator's heaps keep freed blocks for later allocations,
//!   and glibc gives each thread that allocates a heap (an *arena*) of
//!   its own;
//! - the main thread's stack keeps every page the deepest call touched:
//!   the kernel grows a stack, it never shrinks one.
//!
//! The shim's three threads copy output and accept attach clients: a few
//! small allocations, no contention worth an arena each.

/// Makes every thread of this process allocate from the one main heap.
/// Called first thing, before any thread exists: glibc reads the setting
/// when a thread first allocates.
pub fn one_arena() {
    // SAFETY: mallopt only sets a parameter of the allocator.
    unsafe { libc::mallopt(libc::M_ARENA_MAX, 1) };
}

/// Gives the memory of the set-up back to the kernel: the heap's free
/// blocks (`malloc_trim` also releases free pages in the middle of the
/// heap, not only at its top), and the main stack's pages below the
/// current frame.
///
/// Call it from the main thread, shallow in its stack, once the container
/// runs: whatever the stack held below this frame belonged to calls that
/// have returned. A page released there reads as zeros if a later, deeper
/// call uses it again: it costs a page fault, nothing else.
pub fn give_back_setup_memory() {
    // SAFETY: malloc_trim only walks the allocator's own free lists.
    unsafe { libc::malloc_trim(0) };
    release_stack_below_here();
}

/// The bytes left alone below the current frame: this function's own
/// frame and those it calls (madvise itself, and a signal handler that
/// may run any time) stay where they are.
const STACK_KEPT_BELOW: usize = 16 * 1024;

fn release_stack_below_here() {
    let marker = 0u8;
    let here = std::hint::black_box(&marker) as *const u8 as usize;
    let Some((lowest, _)) = mapping_of(here) else {
        return;
    };
    let page = page_size();
    let end = here.saturating_sub(STACK_KEPT_BELOW) & !(page - 1);
    if end <= lowest {
        return;
    }
    // SAFETY: [lowest, end) is the part of this thread's stack mapping
    // below every live frame (the ABI's red zone is 128 bytes; we keep
    // 16 KiB). MADV_DONTNEED on private anonymous memory drops the pages;
    // a later touch maps a zero page, which is what an unused stack holds
    // as far as any correct program is concerned.
    unsafe {
        libc::madvise(
            lowest as *mut libc::c_void,
            end - lowest,
            libc::MADV_DONTNEED,
        )
    };
}

/// The mapping that holds `address` (for a local variable: the calling
/// thread's stack; the main thread's is the `[stack]` line), from
/// /proc/self/maps, as its start and end.
fn mapping_of(address: usize) -> Option<(usize, usize)> {
    let maps = std::fs::read_to_string("/proc/self/maps").ok()?;
    maps.lines().find_map(|line| {
        let range = line.split_whitespace().next()?;
        let (start, end) = range.split_once('-')?;
        let start = usize::from_str_radix(start, 16).ok()?;
        let end = usize::from_str_radix(end, 16).ok()?;
        (start..end).contains(&address).then_some((start, end))
    })
}

fn page_size() -> usize {
    // SAFETY: sysconf only reads a system setting.
    let size = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    usize::try_from(size).unwrap_or(4096)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Touches `depth` KiB of stack, so that there is something to give back.
    #[inline(never)]
    fn deep(depth: usize) -> u8 {
        let mut buffer = [0u8; 1024];
        buffer[depth % 1024] = depth as u8;
        let below = if depth > 0 { deep(depth - 1) } else { 0 };
        std::hint::black_box(&mut buffer)[0].wrapping_add(below)
    }

    /// The resident KiB of the mapping that starts at `start`.
    fn resident_kib(start: usize) -> u64 {
        let smaps = std::fs::read_to_string("/proc/self/smaps").unwrap();
        let head = format!("{start:x}-");
        let mut lines = smaps.lines().skip_while(|line| !line.starts_with(&head));
        lines
            .find_map(|line| line.strip_prefix("Rss:"))
            .and_then(|rss| rss.trim().trim_end_matches("kB").trim().parse().ok())
            .expect("the stack's Rss in /proc/self/smaps")
    }

    #[test]
    fn the_stack_below_this_frame_goes_back() {
        let marker = 0u8;
        let (start, _) = mapping_of(&marker as *const u8 as usize).expect("the stack mapping");
        // Half a MiB of stack in use, then returned from: still resident.
        std::thread::Builder::new()
            .stack_size(4 << 20)
            .spawn(|| {
                let marker = 0u8;
                let (start, _) = mapping_of(&marker as *const u8 as usize).unwrap();
                std::hint::black_box(deep(512));
                let before = resident_kib(start);
                release_stack_below_here();
                let after = resident_kib(start);
                assert!(before >= 512, "the deep calls left {before} KiB");
                assert!(after <= 64, "{before} KiB -> {after} KiB");
            })
            .unwrap()
            .join()
            .unwrap();
        // This thread's own stack is whole after the call: it still runs.
        release_stack_below_here();
        assert!(resident_kib(start) > 0);
    }
}
