//! The scalars of many files as one table, in tbparse's row order: sorted by directory
//! and file name (when those columns are asked for), then tag, then step, rows that tie
//! keeping the order in which the files were visited and the rows were written.

use crate::reader::decode::FileData;
use crate::reader::walk::LogFile;

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

fn sorted_unique<'a>(items: impl Iterator<Item = &'a str>) -> Vec<String> {
    let mut v: Vec<String> = items.map(str::to_owned).collect();
    v.sort();
    v.dedup();
    v
}

fn rank(sorted: &[String], s: &str) -> u32 {
    sorted.binary_search_by(|x| x.as_str().cmp(s)).unwrap_or(0) as u32
}

/// `files[i]` was read from `where_[i]`.
pub fn scalar_table(
    files: &[&FileData],
    where_: &[&LogFile],
    by_dir: bool,
    by_name: bool,
) -> ScalarTable {
    let tags = sorted_unique(files.iter().flat_map(|f| {
        f.scalars
            .order
            .iter()
            .map(move |&t| f.tags[t as usize].as_str())
    }));
    let dirs = sorted_unique(where_.iter().map(|w| w.dir.as_str()));
    let names = sorted_unique(where_.iter().map(|w| w.name.as_str()));
    // Contiguous runs of one tag in one file, with their sort key.
    let mut segments: Vec<Segment> = Vec::new();
    for (fi, f) in files.iter().enumerate() {
        let d = rank(&dirs, &where_[fi].dir);
        let n = rank(&names, &where_[fi].name);
        let rows = &f.scalars;
        let mut r = 0;
        while r < rows.len() {
            let t = rows.tag[r];
            let mut e = r + 1;
            while e < rows.len() && rows.tag[e] == t {
                e += 1;
            }
            let tr = rank(&tags, &f.tags[t as usize]);
            let key = (if by_dir { d } else { 0 }, if by_name { n } else { 0 }, tr);
            segments.push((key, fi, r, e, d, n));
            r = e;
        }
    }
    segments.sort_by_key(|s| s.0);
    let total: usize = files.iter().map(|f| f.scalars.len()).sum();
    let mut out = ScalarTable {
        step: Vec::with_capacity(total),
        value: Vec::with_capacity(total),
        wall: Vec::with_capacity(total),
        tag: Vec::with_capacity(total),
        dir: Vec::with_capacity(total),
        name: Vec::with_capacity(total),
        ..Default::default()
    };
    let mut i = 0;
    while i < segments.len() {
        let mut j = i + 1;
        while j < segments.len() && segments[j].0 == segments[i].0 {
            j += 1;
        }
        let begin = out.step.len();
        for &(key, fi, r, e, d, n) in &segments[i..j] {
            let rows = &files[fi].scalars;
            out.step.extend_from_slice(&rows.step[r..e]);
            out.value.extend_from_slice(&rows.item[r..e]);
            out.wall.extend_from_slice(&rows.wall[r..e]);
            out.tag.extend(std::iter::repeat_n(key.2, e - r));
            out.dir.extend(std::iter::repeat_n(d, e - r));
            out.name.extend(std::iter::repeat_n(n, e - r));
        }
        sort_run_by_step(&mut out, begin);
        i = j;
    }
    out.tags = tags;
    out.dirs = dirs;
    out.names = names;
    out
}

/// Stable sort by step of the rows from `begin` on (usually already in order).
fn sort_run_by_step(t: &mut ScalarTable, begin: usize) {
    let steps = &t.step[begin..];
    if steps.windows(2).all(|w| w[0] <= w[1]) {
        return;
    }
    let mut idx: Vec<usize> = (0..steps.len()).collect();
    idx.sort_by_key(|&k| steps[k]);
    fn apply<T: Copy>(v: &mut [T], idx: &[usize]) {
        let copy: Vec<T> = idx.iter().map(|&k| v[k]).collect();
        v.copy_from_slice(&copy);
    }
    apply(&mut t.step[begin..], &idx);
    apply(&mut t.value[begin..], &idx);
    apply(&mut t.wall[begin..], &idx);
    apply(&mut t.tag[begin..], &idx);
    apply(&mut t.dir[begin..], &idx);
    apply(&mut t.name[begin..], &idx);
}
