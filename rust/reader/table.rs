//! The scalars of many files as one table, in tbparse's row order: sorted by directory
//! and file name (when those columns are asked for), then tag, then step, rows that tie
//! keeping the order in which the files were visited and the rows were written.

use crate::reader::decode::Rows;
use crate::reader::walk::LogFile;

/// One file's scalars and the tag names their ids refer to.
pub type ScalarSource<'a> = (&'a mut Rows<f64>, &'a [String]);

#[derive(Debug, Default)]
pub struct ScalarTable {
    pub step: Vec<i64>,
    pub value: Vec<f64>,
    pub wall: Vec<f64>,
    /// Indices into `tags`, `dirs`, `names` (each sorted).
    pub tag: Vec<u32>,
    pub dir: Vec<u32>,
    pub name: Vec<u32>,
    pub tags: Vec<String>,
    pub dirs: Vec<String>,
    pub names: Vec<String>,
}

/// `(sort key (dir, name, tag), file, first row, end row, dir rank, name rank)`.
type Segment = ((u32, u32, u32), usize, usize, usize, u32, u32);

/// `(first row, order)`: the rows from `first row` on that a stable sort by step moves,
/// `order[k]` the row (relative to `first row`) that goes to place `k`.
type Reorder = (usize, Vec<usize>);

fn sorted_unique<'a>(items: impl Iterator<Item = &'a str>) -> Vec<String> {
    let mut v: Vec<String> = items.map(str::to_owned).collect();
    v.sort();
    v.dedup();
    v
}

fn rank(sorted: &[String], s: &str) -> u32 {
    sorted.binary_search_by(|x| x.as_str().cmp(s)).unwrap_or(0) as u32
}

/// Hands the free memory of the allocator's heaps back to the system. The decoding
/// threads allocate the file columns in their own glibc arenas, which keep freed blocks
/// resident; without this, freeing a file column would not lower the process's footprint
/// before the table's next column is allocated.
pub fn trim_heap() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only returns unused pages of the allocator to the kernel.
    unsafe {
        libc::malloc_trim(0);
    }
}

/// `files[i]` was read from `where_[i]`. `release`: each file column is freed as soon as
/// the table's copy of it is complete, so that the peak holds the files' columns and one
/// table column, not both in full.
pub fn scalar_table(
    files: &mut [ScalarSource<'_>],
    where_: &[&LogFile],
    by_dir: bool,
    by_name: bool,
    release: bool,
) -> ScalarTable {
    let tags = sorted_unique(
        files
            .iter()
            .flat_map(|(rows, names)| rows.order.iter().map(move |&t| names[t as usize].as_str())),
    );
    let dirs = sorted_unique(where_.iter().map(|w| w.dir.as_str()));
    let names = sorted_unique(where_.iter().map(|w| w.name.as_str()));
    // Contiguous runs of one tag in one file, with their sort key.
    let mut segments: Vec<Segment> = Vec::new();
    for (fi, (rows, file_tags)) in files.iter().enumerate() {
        let d = rank(&dirs, &where_[fi].dir);
        let n = rank(&names, &where_[fi].name);
        let mut r = 0;
        while r < rows.len() {
            let t = rows.tag[r];
            let mut e = r + 1;
            while e < rows.len() && rows.tag[e] == t {
                e += 1;
            }
            let tr = rank(&tags, &file_tags[t as usize]);
            let key = (if by_dir { d } else { 0 }, if by_name { n } else { 0 }, tr);
            segments.push((key, fi, r, e, d, n));
            r = e;
        }
    }
    segments.sort_by_key(|s| s.0);
    let total: usize = files.iter().map(|f| f.0.len()).sum();

    // Steps first: they give the reordering of each run of equal keys (usually none).
    let mut step = Vec::with_capacity(total);
    let mut reorders: Vec<Reorder> = Vec::new();
    let mut i = 0;
    while i < segments.len() {
        let mut j = i + 1;
        while j < segments.len() && segments[j].0 == segments[i].0 {
            j += 1;
        }
        let begin = step.len();
        for &(_, fi, r, e, _, _) in &segments[i..j] {
            step.extend_from_slice(&files[fi].0.step[r..e]);
        }
        if let Some(order) = step_order(&step[begin..]) {
            apply(&mut step[begin..], &order);
            reorders.push((begin, order));
        }
        i = j;
    }
    if release {
        files.iter_mut().for_each(|f| f.0.step = Vec::new());
        trim_heap();
    }
    let value = gather(&segments, files, &reorders, total, |rows, r, e| {
        &rows.item[r..e]
    });
    if release {
        files.iter_mut().for_each(|f| f.0.item = Vec::new());
        trim_heap();
    }
    let wall = gather(&segments, files, &reorders, total, |rows, r, e| {
        &rows.wall[r..e]
    });
    if release {
        files.iter_mut().for_each(|f| f.0.wall = Vec::new());
        trim_heap();
    }
    let codes = |pick: fn(&Segment) -> u32| -> Vec<u32> {
        let mut out = Vec::with_capacity(total);
        for s in &segments {
            out.extend(std::iter::repeat_n(pick(s), s.3 - s.2));
        }
        for (begin, order) in &reorders {
            apply(&mut out[*begin..], order);
        }
        out
    };
    let tag = codes(|s| s.0 .2);
    let dir = codes(|s| s.4);
    let name = codes(|s| s.5);
    if release {
        files.iter_mut().for_each(|f| f.0.tag = Vec::new());
        trim_heap();
    }
    ScalarTable {
        step,
        value,
        wall,
        tag,
        dir,
        name,
        tags,
        dirs,
        names,
    }
}

/// One table column: the rows of each segment in turn, then the runs reordered.
fn gather<T: Copy>(
    segments: &[Segment],
    files: &[ScalarSource<'_>],
    reorders: &[Reorder],
    total: usize,
    pick: impl for<'r> Fn(&'r Rows<f64>, usize, usize) -> &'r [T],
) -> Vec<T> {
    let mut out = Vec::with_capacity(total);
    for &(_, fi, r, e, _, _) in segments {
        out.extend_from_slice(pick(&*files[fi].0, r, e));
    }
    for (begin, order) in reorders {
        apply(&mut out[*begin..], order);
    }
    out
}

/// The order of a stable sort by step of `steps`, or `None` when already sorted.
fn step_order(steps: &[i64]) -> Option<Vec<usize>> {
    if steps.windows(2).all(|w| w[0] <= w[1]) {
        return None;
    }
    let mut idx: Vec<usize> = (0..steps.len()).collect();
    idx.sort_by_key(|&k| steps[k]);
    Some(idx)
}

/// Puts `v[order[k]]` at place `k`, for the first `order.len()` elements of `v`.
fn apply<T: Copy>(v: &mut [T], order: &[usize]) {
    let copy: Vec<T> = order.iter().map(|&k| v[k]).collect();
    v[..order.len()].copy_from_slice(&copy);
}
