//! Readers for the labelled SMS sets `telegate filter eval` measures on:
//! the project's TSV (`ham|spam<TAB>text`), and the public sets in their
//! own shapes (ExAIS, SpamHunter, Smishtank). Nothing here is used on the
//! data path.

use std::path::Path;

/// A file's shape.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// `label<TAB>text` a line; label `ham` or `spam` (any case).
    Tsv,
    /// ExAIS (Onashoga et al.): CSV with a header, label (`HAM`/`SPAM`) in
    /// column 7, text from column 8 on (commas in unquoted texts split it
    /// over the following columns; they are joined back).
    Exais,
    /// SpamHunter (Tang et al., CCS'22): a header line, then one spam
    /// message a line.
    SpamHunter,
    /// Smishtank (Timko & Rahman, CODASPY'24): Latin-1 CSV with quoted
    /// fields and embedded newlines; the text is in `MainText`; all
    /// smishing.
    Smishtank,
}

impl Format {
    /// Guesses the shape from the file name and first line.
    pub fn detect(path: &Path, first_line: &str) -> Format {
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().to_lowercase())
            .unwrap_or_default();
        if name.contains("exais") || first_line.starts_with("SMS,Occasion,") {
            Format::Exais
        } else if name.contains("smishtank") || first_line.contains("MainText") {
            Format::Smishtank
        } else if name.contains("spam-hunter")
            || name.contains("spamhunter")
            || first_line.trim() == "Messages"
        {
            Format::SpamHunter
        } else {
            Format::Tsv
        }
    }
}

/// Splits CSV text into records of fields (RFC 4180: quoted fields may
/// hold commas, doubled quotes and newlines).
pub fn parse_csv(src: &str) -> Vec<Vec<String>> {
    let mut records = Vec::new();
    let mut record = Vec::new();
    let mut field = String::new();
    let mut quoted = false;
    let mut chars = src.chars().peekable();
    let mut any = false;
    while let Some(c) = chars.next() {
        any = true;
        if quoted {
            match c {
                '"' if chars.peek() == Some(&'"') => {
                    chars.next();
                    field.push('"');
                }
                '"' => quoted = false,
                _ => field.push(c),
            }
            continue;
        }
        match c {
            '"' if field.is_empty() => quoted = true,
            ',' => record.push(std::mem::take(&mut field)),
            '\r' => {}
            '\n' => {
                record.push(std::mem::take(&mut field));
                records.push(std::mem::take(&mut record));
                any = false;
            }
            _ => field.push(c),
        }
    }
    if any {
        record.push(field);
        records.push(record);
    }
    records
}

/// Reads labelled examples (`true`: spam) from `path` in `format` (or the
/// detected one).
pub fn load(path: &Path, format: Option<Format>) -> Result<Vec<(bool, String)>, String> {
    let bytes = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let text = match String::from_utf8(bytes) {
        Ok(s) => s,
        // Latin-1 (Smishtank): every byte is its code point.
        Err(e) => e.into_bytes().iter().map(|&b| char::from(b)).collect(),
    };
    let first = text.lines().next().unwrap_or_default();
    let format = format.unwrap_or_else(|| Format::detect(path, first));
    let out: Vec<(bool, String)> = match format {
        Format::Tsv => super::classifier::parse_tsv(&text)
            .map_err(|e| format!("{}: {e}", path.display()))?
            .into_iter()
            .map(|(s, t)| (s, t.to_owned()))
            .collect(),
        Format::Exais => parse_csv(&text)
            .into_iter()
            .skip(1)
            .filter_map(|r| {
                let label = r.get(6)?.trim().to_ascii_uppercase();
                let spam = match label.as_str() {
                    "SPAM" => true,
                    "HAM" => false,
                    _ => return None,
                };
                let mut parts: Vec<&str> = r[7..].iter().map(String::as_str).collect();
                while parts.last().is_some_and(|p| p.is_empty()) {
                    parts.pop();
                }
                let t = parts.join(",");
                (!t.trim().is_empty()).then_some((spam, t))
            })
            .collect(),
        Format::SpamHunter => text
            .lines()
            .skip(1)
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .map(|l| (true, l.to_owned()))
            .collect(),
        Format::Smishtank => {
            let records = parse_csv(&text);
            let Some(col) = records
                .first()
                .and_then(|h| h.iter().position(|c| c == "MainText"))
            else {
                return Err(format!("{}: no MainText column", path.display()));
            };
            records
                .into_iter()
                .skip(1)
                .filter_map(|r| r.get(col).cloned())
                .map(|t| t.split_whitespace().collect::<Vec<_>>().join(" "))
                .filter(|t| !t.is_empty())
                .map(|t| (true, t))
                .collect()
        }
    };
    if out.is_empty() {
        return Err(format!("{}: no labelled messages found", path.display()));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_quotes_commas_and_newlines() {
        let r = parse_csv("a,\"b, c\",\"line\nbreak\",\"say \"\"hi\"\"\"\r\nx,,y\n");
        assert_eq!(
            r,
            vec![
                vec!["a", "b, c", "line\nbreak", "say \"hi\""],
                vec!["x", "", "y"]
            ]
        );
        assert_eq!(parse_csv("last,line"), vec![vec!["last", "line"]]);
    }

    #[test]
    fn the_shapes_are_read() {
        let dir = tempfile::tempdir().unwrap();
        let exais = dir.path().join("ExAIS.csv");
        std::fs::write(
            &exais,
            "SMS,Occasion,Target1,Target2,Date,Unknown,Label,Message,,\nSMS,receive,1,1,d,1,SPAM,Dear user, you won,,\nSMS,send,1,1,d,1,HAM,\"ok, see you\",,\n",
        )
        .unwrap();
        assert_eq!(
            load(&exais, None).unwrap(),
            vec![
                (true, "Dear user, you won".to_owned()),
                (false, "ok, see you".to_owned())
            ]
        );
        let tank = dir.path().join("smishtank.csv");
        std::fs::write(
            &tank,
            b"id,MainText,Url\n1,\"Pay the \xa31 fee\nnow\",x\n".as_slice(),
        )
        .unwrap();
        assert_eq!(
            load(&tank, None).unwrap(),
            vec![(true, "Pay the £1 fee now".to_owned())]
        );
        let hunter = dir.path().join("x.txt");
        std::fs::write(&hunter, "Messages\nWIN XXXX now\n\n").unwrap();
        assert_eq!(
            load(&hunter, None).unwrap(),
            vec![(true, "WIN XXXX now".to_owned())]
        );
        let tsv = dir.path().join("t.tsv");
        std::fs::write(&tsv, "ham\thello\nspam\tbuy\n").unwrap();
        assert_eq!(load(&tsv, None).unwrap().len(), 2);
    }
}
