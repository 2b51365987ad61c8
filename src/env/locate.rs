//! Where each field of a YAML file sits, so a problem found in the parsed value can be
//! reported at its line and column. serde's YAML parser keeps no positions, so the text is
//! read a second time, as events, by saphyr's parser.

use std::collections::HashMap;
use std::fmt;

use saphyr_parser::{Event, Parser};

/// One step into a value: a mapping key or a sequence index.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Segment {
    Key(String),
    Index(usize),
}

/// A field's path from the top of the file, shown as `regions.secondary[1].vpc_id`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct FieldPath(pub Vec<Segment>);

impl FieldPath {
    pub fn root() -> Self {
        FieldPath(Vec::new())
    }

    pub fn key(&self, key: &str) -> Self {
        let mut segments = self.0.clone();
        segments.push(Segment::Key(key.to_string()));
        FieldPath(segments)
    }

    pub fn index(&self, index: usize) -> Self {
        let mut segments = self.0.clone();
        segments.push(Segment::Index(index));
        FieldPath(segments)
    }

    pub fn parent(&self) -> Option<FieldPath> {
        let (_, rest) = self.0.split_last()?;
        Some(FieldPath(rest.to_vec()))
    }

    /// The last mapping key on the path (`vpc_id` for `regions.secondary[1].vpc_id`,
    /// `subnet_ids` for `regions.primary.subnet_ids[0]`).
    pub fn last_key(&self) -> Option<&str> {
        self.0.iter().rev().find_map(|segment| match segment {
            Segment::Key(key) => Some(key.as_str()),
            Segment::Index(_) => None,
        })
    }

    /// Builds a path from a JSON pointer (`/regions/secondary/1/vpc_id`), deciding from the
    /// value itself whether a number is a sequence index or a mapping key.
    pub fn from_pointer(pointer: &str, value: &serde_json::Value) -> FieldPath {
        let mut segments = Vec::new();
        let mut current = Some(value);
        for raw in pointer.split('/').skip(1) {
            let token = raw.replace("~1", "/").replace("~0", "~");
            match current {
                Some(serde_json::Value::Array(items)) => {
                    let index = token.parse::<usize>().unwrap_or(usize::MAX);
                    current = items.get(index);
                    segments.push(Segment::Index(index));
                }
                Some(serde_json::Value::Object(map)) => {
                    current = map.get(&token);
                    segments.push(Segment::Key(token));
                }
                _ => {
                    current = None;
                    segments.push(Segment::Key(token));
                }
            }
        }
        FieldPath(segments)
    }
}

impl fmt::Display for FieldPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (position, segment) in self.0.iter().enumerate() {
            match segment {
                Segment::Key(key) if position == 0 => write!(f, "{key}")?,
                Segment::Key(key) => write!(f, ".{key}")?,
                Segment::Index(index) => write!(f, "[{index}]")?,
            }
        }
        Ok(())
    }
}

/// A 1-based line and column.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Position {
    pub line: usize,
    pub column: usize,
}

#[derive(Debug, Clone, Copy)]
struct Place {
    /// Where the field's key is written, for fields of a mapping.
    key: Option<Position>,
    /// Where the field's value starts.
    value: Position,
}

/// The positions of every field in one YAML text, and the keys written twice in a mapping.
#[derive(Debug, Default)]
pub struct SourceMap {
    /// Where each field is written in the file.
    places: HashMap<FieldPath, Place>,
    /// Where a field that an alias or a merge key (`<<`) copied is written: at its
    /// anchor. Consulted after `places`, so a field written in place always wins.
    copied: HashMap<FieldPath, Place>,
    duplicates: Vec<DuplicateKey>,
}

/// A key written a second (or third...) time in the same mapping.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DuplicateKey {
    pub path: FieldPath,
    /// Where the key is written first.
    pub first: Position,
    /// Where it is written again.
    pub again: Position,
}

enum Frame {
    Mapping {
        path: FieldPath,
        /// The key just read, waiting for its value; `None` while a key is expected.
        pending_key: Option<(String, Position)>,
        /// Every key read so far, and where.
        keys: HashMap<String, Position>,
        /// Whether a merge key (`<<`) is among them.
        merges: bool,
    },
    Sequence {
        path: FieldPath,
        next_index: usize,
    },
}

/// A copy the YAML makes that the positions must follow, in document order.
enum Link {
    /// The value at `at` is an alias of the node anchored at `anchor`.
    Alias { at: FieldPath, anchor: FieldPath },
    /// The mapping at `into` merges `into.<<` (a mapping, or a list of them).
    Merge { into: FieldPath },
}

impl SourceMap {
    /// Indexes `text`. A text that does not parse gives an empty map: the YAML error
    /// itself is reported by the real parser, with its own position.
    pub fn index(text: &str) -> SourceMap {
        let mut map = SourceMap::default();
        let mut stack: Vec<Frame> = Vec::new();
        let mut anchors: HashMap<usize, FieldPath> = HashMap::new();
        let mut links: Vec<Link> = Vec::new();
        for event in Parser::new_from_str(text) {
            let Ok((event, span)) = event else { break };
            let at = Position {
                line: span.start.line(),
                column: span.start.col() + 1,
            };
            match event {
                Event::MappingEnd => {
                    if let Some(Frame::Mapping {
                        path, merges: true, ..
                    }) = stack.pop()
                    {
                        links.push(Link::Merge { into: path });
                    }
                }
                Event::SequenceEnd => {
                    stack.pop();
                }
                Event::Scalar(..) | Event::Alias(_) => {
                    if let Some(Frame::Mapping {
                        path,
                        pending_key,
                        keys,
                        merges,
                    }) = stack.last_mut()
                    {
                        if pending_key.is_none() {
                            let key = match &event {
                                Event::Scalar(value, ..) => value.to_string(),
                                // An alias as a key: nothing in our files, and not
                                // comparable by its text.
                                _ => String::from("*alias"),
                            };
                            if matches!(event, Event::Scalar(..)) {
                                if let Some(first) = keys.get(&key) {
                                    map.duplicates.push(DuplicateKey {
                                        path: path.key(&key),
                                        first: *first,
                                        again: at,
                                    });
                                } else {
                                    keys.insert(key.clone(), at);
                                }
                                *merges |= key == MERGE_KEY;
                            }
                            *pending_key = Some((key, at));
                            continue;
                        }
                    }
                    let path = map.enter(&mut stack, at);
                    match event {
                        Event::Alias(id) => {
                            if let Some(anchor) = anchors.get(&id) {
                                links.push(Link::Alias {
                                    at: path,
                                    anchor: anchor.clone(),
                                });
                            }
                        }
                        Event::Scalar(_, _, anchor, _) if anchor > 0 => {
                            anchors.insert(anchor, path);
                        }
                        _ => {}
                    }
                }
                Event::MappingStart(anchor, _) => {
                    let path = map.enter(&mut stack, at);
                    if anchor > 0 {
                        anchors.insert(anchor, path.clone());
                    }
                    stack.push(Frame::Mapping {
                        path,
                        pending_key: None,
                        keys: HashMap::new(),
                        merges: false,
                    });
                }
                Event::SequenceStart(anchor, _) => {
                    let path = map.enter(&mut stack, at);
                    if anchor > 0 {
                        anchors.insert(anchor, path.clone());
                    }
                    stack.push(Frame::Sequence {
                        path,
                        next_index: 0,
                    });
                }
                _ => {}
            }
        }
        for link in links {
            map.follow(link);
        }
        map
    }

    /// Records a value that starts at `at` under the innermost open mapping or sequence,
    /// and returns its path.
    fn enter(&mut self, stack: &mut [Frame], at: Position) -> FieldPath {
        let (path, key) = match stack.last_mut() {
            None => (FieldPath::root(), None),
            Some(Frame::Mapping {
                path, pending_key, ..
            }) => match pending_key.take() {
                Some((key, key_at)) => (path.key(&key), Some(key_at)),
                // A mapping or sequence used as a key: nothing in our files, keep going.
                None => (path.key("?"), None),
            },
            Some(Frame::Sequence { path, next_index }) => {
                *next_index += 1;
                (path.index(*next_index - 1), None)
            }
        };
        self.places
            .entry(path.clone())
            .or_insert(Place { key, value: at });
        path
    }

    /// Gives the fields that an alias or a merge key copies the places where the copied
    /// fields are written.
    fn follow(&mut self, link: Link) {
        // (the copy's path, its order among the merged mappings, the place)
        let mut found: Vec<(FieldPath, usize, Place)> = Vec::new();
        let all = self.places.iter().chain(self.copied.iter());
        match &link {
            Link::Alias { at, anchor } => {
                for (path, place) in all {
                    if let Some(rest) = path.0.strip_prefix(anchor.0.as_slice()) {
                        if !rest.is_empty() {
                            found.push((FieldPath([at.0.as_slice(), rest].concat()), 0, *place));
                        }
                    }
                }
            }
            Link::Merge { into } => {
                let source = into.key(MERGE_KEY);
                for (path, place) in all {
                    let Some(rest) = path.0.strip_prefix(source.0.as_slice()) else {
                        continue;
                    };
                    // `<<: [*a, *b]`: the earlier mapping wins, as YAML merges them.
                    let (order, rest) = match rest.split_first() {
                        Some((Segment::Index(index), rest)) => (*index, rest),
                        _ => (0, rest),
                    };
                    if !rest.is_empty() {
                        found.push((FieldPath([into.0.as_slice(), rest].concat()), order, *place));
                    }
                }
            }
        }
        found.sort_by_key(|a| (a.1, a.2.value));
        for (path, _, place) in found {
            if !self.places.contains_key(&path) {
                self.copied.entry(path).or_insert(place);
            }
        }
    }

    /// Keys written more than once in the same mapping, in file order.
    pub fn duplicates(&self) -> &[DuplicateKey] {
        &self.duplicates
    }

    /// Where to point for a problem with the field's value: the value itself, or the
    /// nearest enclosing field that is written in the file.
    pub fn value_position(&self, path: &FieldPath) -> Option<Position> {
        self.nearest(path).map(|place| place.value)
    }

    /// Where to point for a problem with the field as a whole (an unknown or missing
    /// field): its key where it has one.
    pub fn key_position(&self, path: &FieldPath) -> Option<Position> {
        self.nearest(path)
            .map(|place| place.key.unwrap_or(place.value))
    }

    fn nearest(&self, path: &FieldPath) -> Option<&Place> {
        let mut path = path.clone();
        loop {
            if let Some(place) = self.places.get(&path).or_else(|| self.copied.get(&path)) {
                return Some(place);
            }
            path = path.parent()?;
        }
    }
}

/// YAML's merge key: `<<: *defaults` copies the keys of the anchored mapping that the
/// mapping does not set itself.
pub const MERGE_KEY: &str = "<<";

#[cfg(test)]
mod tests {
    use super::*;

    const TEXT: &str = "\
# a comment
application: shop
regions:
  primary:
    region: us-east-1
  secondary:
    - region: us-east-2
      vpc_id: vpc-1
    - {region: eu-west-1, vpc_id: vpc-2}
tags: {}
";

    fn path(pointer: &str) -> FieldPath {
        let value: serde_json::Value = yaml_serde::from_str(TEXT).unwrap();
        FieldPath::from_pointer(pointer, &value)
    }

    #[test]
    fn finds_keys_and_values_in_block_and_flow_style() {
        let map = SourceMap::index(TEXT);
        let at = |line, column| Some(Position { line, column });
        assert_eq!(map.key_position(&path("/application")), at(2, 1));
        assert_eq!(map.value_position(&path("/application")), at(2, 14));
        assert_eq!(map.key_position(&path("/regions/primary/region")), at(5, 5));
        assert_eq!(map.value_position(&path("/regions/secondary/0")), at(7, 7));
        assert_eq!(
            map.value_position(&path("/regions/secondary/1/vpc_id")),
            at(9, 35)
        );
        assert_eq!(map.key_position(&path("/regions/secondary")), at(6, 3));
    }

    #[test]
    fn a_missing_field_points_at_its_nearest_written_parent() {
        let map = SourceMap::index(TEXT);
        let missing = path("/regions/primary").key("vpc_id");
        assert_eq!(
            map.key_position(&missing),
            Some(Position { line: 4, column: 3 })
        );
    }

    #[test]
    fn merged_fields_are_found_where_they_are_written() {
        let text = "a: &a {x: 1}\nb: &b {x: 2, y: 2}\nc:\n  <<: [*a, *b]\n  z: 3\n";
        let map = SourceMap::index(text);
        let c = FieldPath::root().key("c");
        let at = |line, column| Some(Position { line, column });
        // The first merged mapping wins, as YAML merges them.
        assert_eq!(map.value_position(&c.key("x")), at(1, 11));
        assert_eq!(map.value_position(&c.key("y")), at(2, 17));
        assert_eq!(map.value_position(&c.key("z")), at(5, 6));
    }

    #[test]
    fn keys_written_twice_in_file_order() {
        let map = SourceMap::index("a: 1\nb: {c: 1, c: 2}\na: 3\n");
        let found: Vec<(String, usize, usize)> = map
            .duplicates()
            .iter()
            .map(|d| (d.path.to_string(), d.first.line, d.again.line))
            .collect();
        assert_eq!(found, [("b.c".into(), 2, 2), ("a".into(), 1, 3)]);
        assert_eq!(
            map.duplicates()[0].again,
            Position {
                line: 2,
                column: 11
            }
        );
    }

    #[test]
    fn paths_print_as_users_write_them() {
        assert_eq!(
            path("/regions/secondary/1/vpc_id").to_string(),
            "regions.secondary[1].vpc_id"
        );
        assert_eq!(path("/regions/secondary/1").last_key(), Some("secondary"));
    }
}
