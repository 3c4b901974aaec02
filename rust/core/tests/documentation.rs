// SPDX-License-Identifier: GPL-2.0
//! The format tables of Documentation/checkpoint.rst stay the code's:
//!
//! - the message format table is the one in `image/mod.rs`, and its
//!   offsets, sizes, versions and limits are the constants of `image`;
//! - the module block tables are the ones each module documents where it
//!   writes its block (`stream/{head,tioc,ptm,pts}.rs`,
//!   `ldterm/checkpoint.rs`), in chain order;
//! - every fixed-size part they describe is as long as the part a real
//!   checkpoint writes, their rows follow each other without gaps, and the
//!   bounds they name are the code's.

mod common;

use common::VecStorage;
use pty_core::checkpoint::{checkpoint, checkpoint_len, PairMeta, NODE_MODE_MASK};
use pty_core::image::{
    decode, end_to_byte, layout, ConstantField, ModuleBlock, PtyMode, BLOCK_HEADER_LEN,
    FORMAT_VERSION, HEADER_LEN, MAGIC, MAX_ERRNO, MAX_MODULES, NO_MODULE, STATE_VERSION,
    TRAILER_LEN,
};
use pty_core::ldterm::LdtermState;
use pty_core::stream::{packet, PtyPair, PID_MAX_LIMIT};
use pty_core::termios::Termios;
use pty_core::waitlist::SocketId;
use pty_core::End;

const RST: &str = include_str!("../../../Documentation/checkpoint.rst");

/// The `text` code blocks of a source file's `//!` documentation, each
/// as its lines.
fn doc_tables(src: &str) -> Vec<Vec<String>> {
    let doc = src
        .lines()
        .filter_map(|l| l.strip_prefix("//!"))
        .map(|l| l.strip_prefix(' ').unwrap_or(l));
    let mut tables = Vec::new();
    let mut current: Option<Vec<String>> = None;
    for line in doc {
        match (&mut current, line.trim()) {
            (None, "```text") => current = Some(Vec::new()),
            (Some(_), "```") => tables.extend(current.take()),
            (Some(t), _) => t.push(line.trim_end().to_string()),
            (None, _) => {}
        }
    }
    tables
}

/// The literal block that follows `title` in the rst file, without its
/// two-space indent and its blank lines at either end.
fn rst_block(title: &str) -> Vec<String> {
    let start = RST.find(title).expect(title);
    let after = &RST[start..];
    let body = &after[after.find("::\n").expect("literal block") + 3..];
    let mut lines: Vec<String> = body
        .lines()
        .take_while(|l| l.trim().is_empty() || l.starts_with("  "))
        .map(|l| l.get(2..).unwrap_or("").trim_end().to_string())
        .skip_while(|l| l.is_empty())
        .collect();
    while lines.last().is_some_and(|l| l.is_empty()) {
        lines.pop();
    }
    lines
}

/// A module table without its two header lines.
fn rows(table: &[String]) -> &[String] {
    assert!(
        table[0].starts_with("module part off size field"),
        "{table:?}"
    );
    assert!(table[1].starts_with("------"), "{table:?}");
    &table[2..]
}

#[test]
fn message_format_table_equals_the_image_docs() {
    let code = &doc_tables(include_str!("../image/mod.rs"))[0];
    let title = "Checkpoint message format (version ";
    assert_eq!(&rst_block(title), code);
    let heading = format!("{title}{FORMAT_VERSION}, state version {STATE_VERSION})");
    assert!(RST.contains(&heading), "{heading}");
}

/// A row of a format table: offset, size (both as written) and field.
struct Row<'a> {
    offset: &'a str,
    size: &'a str,
    field: &'a str,
}

/// The rows of the message format table that have an offset.
fn format_rows(table: &[String]) -> Vec<Row<'_>> {
    table
        .iter()
        .skip(2)
        .filter_map(|l| {
            let (cols, field) = (l.get(..14)?, l.get(14..)?);
            let mut c = cols.split_whitespace();
            let (offset, size) = (c.next()?, c.next()?);
            Some(Row {
                offset,
                size,
                field,
            })
        })
        .collect()
}

/// `s` as a plain decimal number (not "+16", "T-8", "n").
fn number(s: &str) -> Option<usize> {
    s.bytes()
        .all(|b| b.is_ascii_digit())
        .then(|| s.parse().ok())?
}

/// The row of the format table whose field starts with `field`.
fn format_row<'a>(rows: &'a [Row<'a>], field: &str) -> &'a Row<'a> {
    rows.iter()
        .find(|r| r.field.starts_with(field))
        .unwrap_or_else(|| panic!("no row {field:?}"))
}

#[test]
fn message_format_table_has_the_layout_offsets() {
    let table = rst_block("Checkpoint message format (version ");
    let rows = format_rows(&table);
    let at = |field: &str| number(format_row(&rows, field).offset).unwrap();
    // The fixed part: every row starts where the one before it ends.
    let mut next = 0;
    for r in rows.iter().take_while(|r| number(r.offset).is_some()) {
        assert_eq!(number(r.offset), Some(next), "{}", r.field);
        next += number(r.size).unwrap();
    }
    assert_eq!(next, layout::BLOCKS);
    assert_eq!(layout::BLOCKS, HEADER_LEN);
    for (field, offset) in [
        ("magic", layout::MAGIC),
        ("format version", layout::VERSION),
        ("header length", layout::HEADER_LEN),
        ("stream kind", layout::KIND),
        ("pty mode", layout::MODE),
        ("module count", layout::MODULE_COUNT),
        ("total length", layout::TOTAL_LEN),
        ("modules processed", layout::PROCESSED),
        ("modules to process", layout::TO_PROCESS),
        ("checkpoint id", layout::CHECKPOINT_ID),
        ("error", layout::ERROR),
        ("failed module index", layout::FAILED_MODULE),
        ("state version", layout::STATE_VERSION),
        ("reserved", layout::RESERVED),
    ] {
        assert_eq!(at(field), offset, "{field}");
    }
    assert_eq!(at("pts input bound"), layout::CONSTANTS);
    for field in ConstantField::ALL {
        assert_eq!(at(field.name()), field.offset(), "{}", field.name());
    }
}

#[test]
fn message_format_table_has_the_format_values() {
    let table = rst_block("Checkpoint message format (version ");
    let rows = format_rows(&table);
    let says = |field: &str, text: String| {
        let row = format_row(&rows, field);
        assert!(row.field.contains(&text), "{:?} lacks {text:?}", row.field);
    };
    assert_eq!(&MAGIC, b"CKPTPTY\0");
    says("magic", "\"CKPTPTY\\0\"".into());
    says("format version", format!("= {FORMAT_VERSION}"));
    says("header length", format!("= {HEADER_LEN}"));
    let (master, slave) = (end_to_byte(End::Master), end_to_byte(End::Slave));
    says(
        "stream kind",
        format!("{master} = master end, {slave} = slave end"),
    );
    let (att, bsd) = (PtyMode::Att.as_u8(), PtyMode::Bsd.as_u8());
    says(
        "pty mode",
        format!("{att} = AT&T (ptmx clone), {bsd} = BSD"),
    );
    says("module count", format!("0..={MAX_MODULES}"));
    says("error", format!("(-{MAX_ERRNO}..=-1)"));
    says(
        "failed module index",
        format!("{NO_MODULE:#x} if error = 0"),
    );
    says("state version", format!("= {STATE_VERSION}"));
    let blocks = format!("MODULE BLOCK, n times, from offset {}", layout::BLOCKS);
    assert!(table.iter().any(|l| l.contains(&blocks)), "{blocks}");
    let block_data = rows.iter().find(|r| r.field.starts_with("internal bytes"));
    let data_at = format!("+{BLOCK_HEADER_LEN}");
    assert_eq!(block_data.map(|r| r.offset), Some(&*data_at));
    assert_eq!(
        format_row(&rows, "CRC-32").offset,
        format!("T-{TRAILER_LEN}")
    );
}

/// The module tables as each module documents them, in chain order.
fn code_chains() -> [Vec<String>; 2] {
    let head = &doc_tables(include_str!("../stream/head.rs"))[0];
    let tioc = doc_tables(include_str!("../stream/tioc.rs"));
    let ptm = &doc_tables(include_str!("../stream/ptm.rs"))[0];
    let pts = &doc_tables(include_str!("../stream/pts.rs"))[0];
    let ldterm = &doc_tables(include_str!("../ldterm/checkpoint.rs"))[0];
    // head.rs documents both heads in one table: the slave's is the row
    // that starts with "head   I,E".
    let head = rows(head);
    let split = head
        .iter()
        .position(|l| l.starts_with("head   I,E"))
        .unwrap();
    let (master_head, slave_head) = head.split_at(split);
    let header = &tioc[0][..2];
    let master = [header, master_head, rows(&tioc[0]), rows(ptm)].concat();
    let slave = [header, slave_head, rows(&tioc[1]), rows(ldterm), rows(pts)].concat();
    [master, slave]
}

#[test]
fn module_block_tables_are_the_modules_own() {
    let [master, slave] = code_chains();
    assert_eq!(rst_block("Master stream (head, tioc, ptm)"), master);
    assert_eq!(rst_block("Slave stream (head, tioc, ldterm, pts)"), slave);
    let heading = format!("Module blocks, state version {STATE_VERSION}");
    assert!(RST.contains(&heading), "{heading}");
}

/// One field of a module table.
#[derive(Debug)]
struct Field {
    module: String,
    part: String,
    offset: Option<usize>,
    size: Option<usize>,
    /// A sub-field of the field above it.
    nested: bool,
    text: String,
}

/// The fields of a module table (continuation lines dropped): module and
/// part when they change, offset and size right-aligned to columns 15 and
/// 20, the field's text from column 21.
fn fields(rows: &[String]) -> Vec<Field> {
    let (mut module, mut part) = (String::new(), String::new());
    let mut out = Vec::new();
    for l in rows {
        let cols = l.get(..20).unwrap_or(l);
        let mut c: Vec<&str> = cols.split_whitespace().collect();
        if c.len() < 2 {
            continue; // Continuation of the field above.
        }
        if c.len() == 4 {
            module = c.remove(0).to_string();
            part = c.remove(0).to_string();
        }
        let text = l.get(21..).unwrap_or("");
        out.push(Field {
            module: module.clone(),
            part: part.clone(),
            offset: number(c[0]),
            size: number(c[1]),
            nested: text.starts_with("  "),
            text: text.trim().to_string(),
        });
    }
    out
}

/// Every `(module, part)` of `fields` with the length its fields add up
/// to (`None` where it is not fixed: `n`, `P`, ...).
fn part_lengths(fields: &[Field]) -> Vec<(&str, &str, Option<usize>)> {
    fields
        .chunk_by(|a, b| (&a.module, &a.part) == (&b.module, &b.part))
        .map(|part| (&*part[0].module, &*part[0].part, fixed_len(part)))
        .collect()
}

/// The length the fields of one part add up to, checking that each
/// starts where the one before it ends.
fn fixed_len(fields: &[Field]) -> Option<usize> {
    let mut len = Some(0);
    for (k, f) in fields.iter().enumerate().filter(|(_, f)| !f.nested) {
        let subs: Vec<&Field> = fields[k + 1..].iter().take_while(|s| s.nested).collect();
        check_sub_fields(f, &subs);
        if f.offset.is_none() && f.size == Some(0) {
            continue; // "(empty)"
        }
        let (Some(l), Some(o)) = (len, f.offset) else {
            len = None;
            continue;
        };
        assert_eq!(o, l, "{f:?} does not start where the field before ends");
        len = f.size.map(|s| o + s);
    }
    len
}

/// Sub-fields start at their field's offset and follow each other up to
/// its end.
fn check_sub_fields(f: &Field, subs: &[&Field]) {
    let Some(start) = f.offset.filter(|_| !subs.is_empty()) else {
        return;
    };
    let mut end = start;
    for s in subs {
        assert_eq!(s.offset, Some(end), "{s:?}");
        end += s.size.unwrap();
    }
    assert_eq!(Some(end - start), f.size, "sub-fields of {f:?}");
}

/// Both images of a fresh pair that serves a socket.
fn images() -> [Vec<u8>; 2] {
    let mut p = PtyPair::new(VecStorage::new);
    p.slave_opened();
    let meta = PairMeta {
        socket: Some(SocketId::default()),
        ..PairMeta::new(3, PtyMode::Att)
    };
    [End::Master, End::Slave].map(|kind| {
        let mut out = vec![0; checkpoint_len(&p, kind, &meta).unwrap()];
        let n = checkpoint(&p, kind, &meta, 1, &mut out).unwrap();
        out.truncate(n);
        out
    })
}

/// The length of `part` ("I" or "E") of `block`.
fn block_part_len(block: &ModuleBlock<'_>, part: &str) -> usize {
    match part {
        "I" => block.internal.len(),
        "E" => block.external.len(),
        _ => panic!("part {part}"),
    }
}

#[test]
fn module_tables_describe_the_written_blocks() {
    let chains = code_chains();
    for (table, image) in chains.iter().zip(images()) {
        let image = decode(&image).unwrap();
        let fields = fields(rows(table));
        for (module, part, len) in part_lengths(&fields) {
            let block = image
                .modules()
                .iter()
                .find(|b| b.name.as_str() == module)
                .unwrap_or_else(|| panic!("no block {module}"));
            // Parts that end in data of their own length (`n`, `P`) are
            // not fixed; the others are exactly as long as their fields.
            let Some(len) = len else { continue };
            for part in part.split(',') {
                assert_eq!(block_part_len(block, part), len, "{module} {part}");
            }
        }
    }
}

#[test]
fn module_tables_name_the_code_sizes_and_bounds() {
    let [master, slave] = code_chains();
    let fields: Vec<Field> = fields(rows(&master))
        .into_iter()
        .chain(fields(rows(&slave)))
        .collect();
    let field = |text: &str| {
        fields
            .iter()
            .find(|f| f.text.starts_with(text))
            .unwrap_or_else(|| panic!("no field {text:?}"))
    };
    assert_eq!(field("LdtermState").size, Some(LdtermState::SIZE));
    assert_eq!(field("termios").size, Some(Termios::SIZE));
    assert_eq!(field("socket identity").size, Some(SocketId::ENCODED_LEN));
    assert_eq!(field("P: length").offset, Some(LdtermState::SIZE));
    assert!(field("node permission bits")
        .text
        .contains(&format!("<= {NODE_MODE_MASK:#o}")));
    assert!(field("pending packet status")
        .text
        .contains(&format!("bits {:#x}", packet::ALL)));
    assert!(field("foreground process group")
        .text
        .contains("PID_MAX_LIMIT"));
    assert_eq!(PID_MAX_LIMIT, 4 * 1024 * 1024);
}
