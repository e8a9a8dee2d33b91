//! The XML form of a generated return, as the pack's `[tables.xml]` describes it (SSDA903's EXPSSDA903): one
//! record element per child, holding the element columns are inherited from (HEADER) with the one-row tables'
//! columns and the tables found inside it, and the other tables' rows beside it. A row's element leaves out the
//! columns it would inherit with the same value, so the file reads as councils' systems write it.
//!
//! What the XML form cannot say is left out, as it would be by such a system: a second row of a table kept in
//! the inherited element, a column of a row kept there that differs from the inherited one, or a row none of
//! whose `when` columns says it is there (each blank or a value of `unless`).

use std::collections::BTreeMap;

use anyhow::{anyhow, bail, Result};

use caregate_engine::standard::StandardPack;

use super::{Layout, Rows};

/// Where each table of the layout goes in the XML form.
#[derive(Debug, Clone)]
pub struct XmlLayout {
    root: String,
    record: String,
    inherit: String,
    /// Column → element, for the columns named otherwise in XML.
    element_of: BTreeMap<String, String>,
    /// Tables kept in the inherited element (its own table first), each with its `when` columns and the
    /// values of them that say no (`unless`).
    kept: Vec<(usize, Vec<String>, Vec<String>)>,
    /// Tables whose rows are elements inside the inherited element, and beside it in the record.
    inside: Vec<(usize, String)>,
    beside: Vec<(usize, String)>,
}

impl XmlLayout {
    pub fn of(pack: &StandardPack, layout: &Layout) -> Result<XmlLayout> {
        let what = pack.reference();
        let tables = pack.manifest.tables.as_ref().ok_or_else(|| anyhow!("{what} is not sent as tables"))?;
        let form = tables.xml.as_ref().ok_or_else(|| anyhow!("{what} has no XML form ([tables.xml])"))?;
        let element_of = form.rename.iter().map(|(element, column)| (column.clone(), element.clone())).collect();
        let mut xml = XmlLayout {
            root: form.root.clone(),
            record: form.record.clone(),
            inherit: form.inherit.clone(),
            element_of,
            kept: Vec::new(),
            inside: Vec::new(),
            beside: Vec::new(),
        };
        for spec in &tables.table {
            let Some(at) = &spec.xml else { continue };
            let t = layout.index(&spec.name).ok_or_else(|| anyhow!("{what}: table {} has no layout", spec.name))?;
            let steps: Vec<&str> = at.path.split('/').filter(|s| !s.is_empty()).collect();
            match steps.as_slice() {
                [one] if *one == form.inherit => xml.kept.push((t, at.when.clone(), at.unless.clone())),
                [one] if at.when.is_empty() => xml.beside.push((t, one.to_string())),
                [first, one] if *first == form.inherit && at.when.is_empty() => xml.inside.push((t, one.to_string())),
                _ => bail!("{what}: table {} is at `{}`, which the generator cannot write", spec.name, at.path),
            }
        }
        // The inherited element's own table (no `when`) is written first: the others inherit from it.
        xml.kept.sort_by_key(|(_, when, _)| !when.is_empty());
        if xml.kept.first().is_none_or(|(_, when, _)| !when.is_empty()) {
            bail!("{what}: no table is the {} element itself", form.inherit);
        }
        Ok(xml)
    }

    pub fn start(&self, out: &mut String) {
        out.push_str("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\r\n<");
        out.push_str(&self.root);
        out.push_str(">\r\n");
    }

    pub fn end(&self, out: &mut String) {
        out.push_str("</");
        out.push_str(&self.root);
        out.push_str(">\r\n");
    }

    /// One child's record element.
    pub fn record(&self, layout: &Layout, rows: &Rows, out: &mut String) {
        let mut inherited: Vec<(&str, &str)> = Vec::new();
        open(out, &self.record, 1);
        open(out, &self.inherit, 2);
        for (t, when, unless) in &self.kept {
            let Some(row) = rows[*t].first() else { continue };
            let columns = &layout.tables[*t].columns;
            let cell = |name: &str| columns.iter().position(|c| c == name).map(|i| row[i].as_str());
            if !when.is_empty() {
                // Each `when` element as the file will have it: the row's own cell, else the one an earlier
                // table wrote (the Header's UASC status).
                let said: Vec<&str> = when
                    .iter()
                    .filter_map(|w| cell(w).or_else(|| inherited.iter().find(|(c, _)| c == w).map(|(_, v)| *v)))
                    .collect();
                if said.is_empty() {
                    // A flag element of its own says the row is there.
                    self.leaf(out, &when[0], "1", 3);
                } else if !said.iter().any(|v| !v.is_empty() && !unless.iter().any(|u| u == v)) {
                    continue;
                }
            }
            for (column, value) in columns.iter().zip(row) {
                if inherited.iter().any(|(c, _)| c == column) || value.is_empty() {
                    continue;
                }
                self.leaf(out, column, value, 3);
                inherited.push((column, value));
            }
        }
        for (t, element) in &self.inside {
            self.rows(layout, *t, &rows[*t], element, &inherited, out, 3);
        }
        close(out, &self.inherit, 2);
        for (t, element) in &self.beside {
            self.rows(layout, *t, &rows[*t], element, &inherited, out, 2);
        }
        close(out, &self.record, 1);
    }

    #[allow(clippy::too_many_arguments)]
    fn rows(
        &self,
        layout: &Layout,
        t: usize,
        rows: &[Vec<String>],
        element: &str,
        inherited: &[(&str, &str)],
        out: &mut String,
        depth: usize,
    ) {
        for row in rows {
            open(out, element, depth);
            for (column, value) in layout.tables[t].columns.iter().zip(row) {
                match inherited.iter().find(|(c, _)| c == column) {
                    Some((_, same)) if same == value => {}
                    // Blank here, though the inherited element has it: an empty element says so.
                    Some(_) if value.is_empty() => self.leaf(out, column, "", depth + 1),
                    None if value.is_empty() => {}
                    _ => self.leaf(out, column, value, depth + 1),
                }
            }
            close(out, element, depth);
        }
    }

    fn leaf(&self, out: &mut String, column: &str, value: &str, depth: usize) {
        let name = self.element_of.get(column).map_or(column, String::as_str);
        indent(out, depth);
        out.push('<');
        out.push_str(name);
        if value.is_empty() {
            out.push_str(" />\r\n");
            return;
        }
        out.push('>');
        for c in value.chars() {
            match c {
                '&' => out.push_str("&amp;"),
                '<' => out.push_str("&lt;"),
                '>' => out.push_str("&gt;"),
                c => out.push(c),
            }
        }
        out.push_str("</");
        out.push_str(name);
        out.push_str(">\r\n");
    }
}

fn indent(out: &mut String, depth: usize) {
    for _ in 0..depth {
        out.push_str("  ");
    }
}

fn open(out: &mut String, name: &str, depth: usize) {
    indent(out, depth);
    out.push('<');
    out.push_str(name);
    out.push_str(">\r\n");
}

fn close(out: &mut String, name: &str, depth: usize) {
    indent(out, depth);
    out.push_str("</");
    out.push_str(name);
    out.push_str(">\r\n");
}
