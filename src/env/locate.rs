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

/// The positions of every field in one YAML text.
#[derive(Debug, Default)]
pub struct SourceMap {
    places: HashMap<FieldPath, Place>,
}

enum Frame {
    Mapping {
        path: FieldPath,
        /// The key just read, waiting for its value; `None` while a key is expected.
        pending_key: Option<(String, Position)>,
    },
    Sequence {
        path: FieldPath,
        next_index: usize,
    },
}

impl SourceMap {
    /// Indexes `text`. A text that does not parse gives an empty map: the YAML error
    /// itself is reported by the real parser, with its own position.
    pub fn index(text: &str) -> SourceMap {
        let mut map = SourceMap::default();
        let mut stack: Vec<Frame> = Vec::new();
        for event in Parser::new_from_str(text) {
            let Ok((event, span)) = event else { break };
            let at = Position {
                line: span.start.line(),
                column: span.start.col() + 1,
            };
            match event {
                Event::MappingEnd | Event::SequenceEnd => {
                    stack.pop();
                }
                Event::Scalar(..) | Event::Alias(_) => {
                    if let Some(Frame::Mapping { pending_key, .. }) = stack.last_mut() {
                        if pending_key.is_none() {
                            let key = match &event {
                                Event::Scalar(value, ..) => value.to_string(),
                                _ => String::from("*alias"),
                            };
                            *pending_key = Some((key, at));
                            continue;
                        }
                    }
                    map.enter(&mut stack, at);
                }
                Event::MappingStart(..) => {
                    let path = map.enter(&mut stack, at);
                    stack.push(Frame::Mapping {
                        path,
                        pending_key: None,
                    });
                }
                Event::SequenceStart(..) => {
                    let path = map.enter(&mut stack, at);
                    stack.push(Frame::Sequence {
                        path,
                        next_index: 0,
                    });
                }
                _ => {}
            }
        }
        map
    }

    /// Records a value that starts at `at` under the innermost open mapping or sequence,
    /// and returns its path.
    fn enter(&mut self, stack: &mut [Frame], at: Position) -> FieldPath {
        let (path, key) = match stack.last_mut() {
            None => (FieldPath::root(), None),
            Some(Frame::Mapping { path, pending_key }) => match pending_key.take() {
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
            if let Some(place) = self.places.get(&path) {
                return Some(place);
            }
            path = path.parent()?;
        }
    }
}

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
    fn paths_print_as_users_write_them() {
        assert_eq!(
            path("/regions/secondary/1/vpc_id").to_string(),
            "regions.secondary[1].vpc_id"
        );
        assert_eq!(path("/regions/secondary/1").last_key(), Some("secondary"));
    }
}
