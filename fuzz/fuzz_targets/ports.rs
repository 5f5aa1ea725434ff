//! Port lists as `scan -p`, `--ports` and `--exclude-ports` take them, with names looked up
//! in the embedded registry. The input is the three texts separated by newlines.
#![no_main]

use std::sync::LazyLock;

use libfuzzer_sys::fuzz_target;
use portent_registry::Registry;
use portent_scan::ports::{self, PortClass};

static REGISTRY: LazyLock<Registry> = LazyLock::new(Registry::embedded);

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let mut parts = text.splitn(3, '\n');
    let list = parts.next().filter(|s| !s.is_empty());
    let classes = parts.next().filter(|s| !s.is_empty());
    let exclude = parts.next().filter(|s| !s.is_empty());
    if let Some(l) = list
        && let Ok(set) = ports::parse_ports(l, &REGISTRY)
    {
        let v = set.to_vec();
        assert_eq!(v.len(), set.len());
        assert!(v.windows(2).all(|w| w[0] < w[1]));
        let _ = set.summary();
    }
    if let Some(c) = classes {
        let _ = ports::parse_classes(c, &REGISTRY);
        let _ = PortClass::parse(c);
    }
    // Classes cost a pass over every port: only when asked for (or an exclusion is).
    if (classes.is_some() || exclude.is_some())
        && let Ok(set) = ports::select(list, classes, exclude, &REGISTRY)
    {
        assert!(!set.is_empty());
    }
});
