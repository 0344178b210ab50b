//! Unit tests for the go.mod directive rules; each test names the x/mod rule it checks.

use super::*;

fn strict(src: &str) -> Result<ModFile, ParseErrors> {
    parse("go.mod", src.as_bytes())
}

fn lax(src: &str) -> Result<ModFile, ParseErrors> {
    parse_lax("go.mod", src.as_bytes())
}

/// Asserts that strict parsing of each input fails with exactly the given text.
fn assert_strict_errors(cases: &[(&str, &str)]) {
    for &(input, want) in cases {
        match strict(input) {
            Ok(f) => panic!("{input:?}: want error {want:?}, parsed {f:?}"),
            Err(e) => assert_eq!(e.to_string(), want, "{input:?}"),
        }
    }
}

#[test]
fn parse_error_display_matches_go_error_format() {
    const CASES: &[(usize, usize, &str)] = &[
        (3, 1, "go.mod:3: boom"),
        (3, 0, "go.mod:3: boom"),
        (3, 2, "go.mod:3:2: boom"),
        (0, 0, "go.mod: boom"),
    ];
    for &(line, col, want) in CASES {
        let e = ParseError {
            file: "go.mod".into(),
            line,
            col,
            msg: "boom".into(),
        };
        assert_eq!(e.to_string(), want);
    }
    let list = ParseErrors(vec![
        ParseError {
            file: "a".into(),
            line: 1,
            col: 1,
            msg: "x".into(),
        },
        ParseError {
            file: String::new(),
            line: 0,
            col: 0,
            msg: "y".into(),
        },
    ]);
    assert_eq!(list.to_string(), "a:1: x\ny");
}

#[test]
fn parse_reads_every_directive() {
    let src = "\
// Deprecated: use example.com/new
module example.com/m

go 1.22.0
toolchain go1.22.3
godebug (
	default=go1.21
	panicnil=1
)
require (
	example.com/a v1.2.3
	example.com/b/v2 v2.0.0 // indirect
)
require example.com/c v1.2
exclude example.com/a v1.2.2
replace example.com/a v1.2.3 => ../a
replace example.com/d => example.com/e v1.0.0
// bad release
retract v1.0.1
retract [v1.1.0, v1.1.9] // all of 1.1
tool example.com/m/cmd/gen
ignore ./third_party
";
    let f = strict(src).unwrap();
    assert_eq!(
        f.module,
        Some(ModuleDecl {
            path: "example.com/m".into(),
            deprecated: Some("use example.com/new".into()),
            line: 2,
        })
    );
    assert_eq!(f.go.as_deref(), Some("1.22.0"));
    assert_eq!(f.toolchain.as_deref(), Some("go1.22.3"));
    assert_eq!(
        f.godebug,
        vec![
            ("default".into(), "go1.21".into()),
            ("panicnil".into(), "1".into())
        ]
    );
    let req: Vec<(&str, &str, bool, usize)> = f
        .require
        .iter()
        .map(|r| (r.path.as_str(), r.version.as_str(), r.indirect, r.line))
        .collect();
    assert_eq!(
        req,
        vec![
            ("example.com/a", "v1.2.3", false, 11),
            ("example.com/b/v2", "v2.0.0", true, 12),
            ("example.com/c", "v1.2.0", false, 14),
        ]
    );
    assert_eq!(
        f.exclude,
        vec![Exclude {
            path: "example.com/a".into(),
            version: "v1.2.2".into(),
            line: 15
        }]
    );
    assert_eq!(
        f.replace,
        vec![
            Replace {
                old_path: "example.com/a".into(),
                old_version: Some("v1.2.3".into()),
                new_path: "../a".into(),
                new_version: None,
                line: 16,
            },
            Replace {
                old_path: "example.com/d".into(),
                old_version: None,
                new_path: "example.com/e".into(),
                new_version: Some("v1.0.0".into()),
                line: 17,
            },
        ]
    );
    assert_eq!(
        f.retract,
        vec![
            Retract {
                low: "v1.0.1".into(),
                high: "v1.0.1".into(),
                rationale: "bad release".into(),
                line: 19,
            },
            Retract {
                low: "v1.1.0".into(),
                high: "v1.1.9".into(),
                rationale: "all of 1.1".into(),
                line: 20,
            },
        ]
    );
    assert_eq!(f.tool, vec!["example.com/m/cmd/gen".to_string()]);
    assert_eq!(f.ignore, vec!["./third_party".to_string()]);
}

#[test]
fn parse_rejects_unknown_directives_and_blocks() {
    assert_strict_errors(&[
        ("module m\nfoo bar\n", "go.mod:2: unknown directive: foo"),
        ("  foo\n", "go.mod:1:3: unknown directive: foo"),
        ("foo (\n\tx\n)\n", "go.mod:1: unknown block type: foo"),
        ("go (\n\t1.21\n)\n", "go.mod:1: unknown block type: go"),
        (
            "require x (\n\ta v1.0.0\n)\n",
            "go.mod:1: unknown block type: require x",
        ),
        (
            "foo\nbar\n",
            "go.mod:1: unknown directive: foo\ngo.mod:2: unknown directive: bar",
        ),
        ("\"module\" m\n", "go.mod:1: unknown directive: \"module\""),
    ]);
}

#[test]
fn parse_lax_ignores_future_and_main_module_only_directives() {
    let src = "\
module example.com/m
go 1.21
toolchain nonsense
godebug bad
exclude x v1
replace a => b
tool
frobnicate the widgets
frobnicate (
	whatever you like
)
require example.com/a v1.0.0
ignore ./x
";
    let f = lax(src).unwrap();
    assert_eq!(f.module.unwrap().path, "example.com/m");
    assert_eq!(f.go.as_deref(), Some("1.21"));
    assert_eq!(f.toolchain, None);
    assert!(f.godebug.is_empty() && f.exclude.is_empty() && f.replace.is_empty());
    assert!(f.tool.is_empty());
    assert_eq!(f.require.len(), 1);
    assert_eq!(f.ignore, vec!["./x".to_string()]);
    assert!(strict(src).is_err());
}

#[test]
fn parse_lax_still_checks_module_go_require_retract_syntax() {
    const CASES: &[(&str, &str)] = &[
        ("module a b\n", "go.mod:1: usage: module module/path"),
        (
            "go foo\n",
            "go.mod:1: invalid go version 'foo': must match format 1.23.0",
        ),
        ("go 1.21\ngo 1.22\n", "go.mod:2: repeated go statement"),
        ("require x\n", "go.mod:1: usage: require module/path v1.2.3"),
        (
            "ignore\n",
            "go.mod:1: ignore directive expects exactly one argument",
        ),
        (
            "module x\n\"unterminated\n",
            "go.mod:2:14: unexpected newline in string",
        ),
    ];
    for &(input, want) in CASES {
        let err = lax(input).unwrap_err();
        assert_eq!(err.to_string(), want, "{input:?}");
    }
}

#[test]
fn go_version_re_accepts_release_and_prerelease_forms() {
    const CASES: &[(&str, bool)] = &[
        ("1.21", true),
        ("1.21.0", true),
        ("1.22rc1", true),
        ("1.21.0rc1", true),
        ("1.0", true),
        ("10.20.30", true),
        ("1.21.0.1", false),
        ("1", false),
        ("1.", false),
        ("01.21", false),
        ("1.021", false),
        ("1.21.00", false),
        ("1.21rc", false),
        ("1.21-rc1", false),
        ("1.21RC1", false),
        ("v1.21", false),
        ("go1.21", false),
        ("1.21rc1x", false),
        ("", false),
    ];
    for &(v, want) in CASES {
        assert_eq!(is_go_version(v.as_bytes()), want, "{v:?}");
    }
}

#[test]
fn lax_go_version_re_keeps_major_minor_prefix() {
    const CASES: &[(&str, Option<&str>)] = &[
        ("1.21-pre", Some("1.21")),
        ("v1.21.0", Some("1.21")),
        ("1.21.0.1", Some("1.21")),
        ("1.0x", Some("1.0")),
        ("1.21", None),
        ("1.021", None),
        ("01.2x", None),
        ("x1.2.3", None),
    ];
    for &(v, want) in CASES {
        let got = lax_go_version(v.as_bytes()).map(|b| String::from_utf8(b.to_vec()).unwrap());
        assert_eq!(got.as_deref(), want, "{v:?}");
    }
    assert_eq!(lax("go 1.21.0.1\n").unwrap().go.as_deref(), Some("1.21"));
    assert_strict_errors(&[(
        "go 1.21.0.1\n",
        "go.mod:1: invalid go version '1.21.0.1': must match format 1.23.0",
    )]);
}

#[test]
fn toolchain_re_accepts_default_and_go1_names() {
    const CASES: &[(&str, bool)] = &[
        ("default", true),
        ("go1", true),
        ("go1.21.3", true),
        ("go1.21rc1", true),
        ("go1.21.3-gccgo", true),
        ("go1.", true),
        ("go10", false),
        ("go2", false),
        ("local", false),
        ("defaults", false),
        ("1.21", false),
    ];
    for &(v, want) in CASES {
        assert_eq!(is_toolchain_name(v.as_bytes()), want, "{v:?}");
    }
}

#[test]
fn repeated_module_go_toolchain_statements_are_errors() {
    assert_strict_errors(&[
        (
            "module a\nmodule b\n",
            "go.mod:2: repeated module statement",
        ),
        (
            "module\nmodule b\n",
            "go.mod:1: usage: module module/path\ngo.mod:2: repeated module statement",
        ),
        ("go 1.20\ngo 1.21\n", "go.mod:2: repeated go statement"),
        (
            "toolchain go1.21.0\ntoolchain default\n",
            "go.mod:2: repeated toolchain statement",
        ),
        (
            "module (\n\ta\n\tb\n)\n",
            "go.mod:3:2: repeated module statement",
        ),
    ]);
    // A go line that failed does not count as the first one.
    assert_eq!(
        strict("go x\ngo 1.21\n").unwrap_err().to_string(),
        "go.mod:1: invalid go version 'x': must match format 1.23.0"
    );
}

#[test]
fn directive_argument_counts_are_checked() {
    assert_strict_errors(&[
        (
            "go\n",
            "go.mod:1: go directive expects exactly one argument",
        ),
        (
            "go 1.21 1.22\n",
            "go.mod:1: go directive expects exactly one argument",
        ),
        (
            "toolchain\n",
            "go.mod:1: toolchain directive expects exactly one argument",
        ),
        (
            "toolchain go2\n",
            "go.mod:1: invalid toolchain version 'go2': must match format go1.23.0 or default",
        ),
        (
            "tool a b\n",
            "go.mod:1: tool directive expects exactly one argument",
        ),
        ("exclude a\n", "go.mod:1: usage: exclude module/path v1.2.3"),
        (
            "require a v1.0.0 v2\n",
            "go.mod:1: usage: require module/path v1.2.3",
        ),
    ]);
}

#[test]
fn module_path_is_unquoted_but_not_validated() {
    const CASES: &[(&str, &str)] = &[
        ("module example.com/m\n", "example.com/m"),
        ("module \"example.com/a b\"\n", "example.com/a b"),
        ("module \"ex\\u00e9\"\n", "exé"),
        ("module ../not/a/module/path\n", "../not/a/module/path"),
    ];
    for &(input, want) in CASES {
        assert_eq!(
            strict(input).unwrap().module.unwrap().path,
            want,
            "{input:?}"
        );
    }
    assert_strict_errors(&[
        (
            "module `raw`\n",
            "go.mod:1: invalid quoted string: unquoted string cannot contain quote",
        ),
        (
            "module it's\n",
            "go.mod:1: invalid quoted string: unquoted string cannot contain quote",
        ),
        (
            "module \"\\q\"\n",
            "go.mod:1: invalid quoted string: invalid syntax",
        ),
    ]);
}

#[test]
fn parse_deprecation_takes_first_deprecated_paragraph() {
    const CASES: &[(&str, Option<&str>)] = &[
        ("// Deprecated: use b\nmodule a\n", Some("use b")),
        ("module a // Deprecated: use c\n", Some("use c")),
        ("//Deprecated:x\nmodule a\n", Some("x")),
        (
            "// Deprecated: one\n// more\n//\n// Other.\nmodule a\n",
            Some("one\nmore"),
        ),
        (
            "// Intro.\n//\n// Deprecated: later\nmodule a\n",
            Some("later"),
        ),
        ("// Intro. Deprecated: not a paragraph\nmodule a\n", None),
        ("// deprecated: lower case\nmodule a\n", None),
        ("// Deprecated:\nmodule a\n", None),
        ("// Deprecated: far\n\nmodule a\n", None),
        (
            "// Deprecated: in block\nmodule (\n\ta\n)\n",
            Some("in block"),
        ),
        (
            "// Deprecated: block\nmodule (\n\t// Deprecated: line\n\ta\n)\n",
            Some("line"),
        ),
    ];
    for &(input, want) in CASES {
        let m = strict(input).unwrap().module.unwrap();
        assert_eq!(m.deprecated.as_deref(), want, "{input:?}");
    }
}

#[test]
fn godebug_requires_one_unquoted_key_value() {
    const OK: &[(&str, (&str, &str))] = &[
        ("godebug a=b\n", ("a", "b")),
        ("godebug a=b=c\n", ("a", "b=c")),
        ("godebug a=\n", ("a", "")),
        ("godebug =b\n", ("", "b")),
    ];
    for &(input, (k, v)) in OK {
        assert_eq!(
            strict(input).unwrap().godebug,
            vec![(k.to_string(), v.to_string())],
            "{input:?}"
        );
    }
    assert_strict_errors(&[
        ("godebug ab\n", "go.mod:1: usage: godebug key=value"),
        ("godebug a=b c=d\n", "go.mod:1: usage: godebug key=value"),
        ("godebug \"a=b\"\n", "go.mod:1: usage: godebug key=value"),
        ("godebug a='b'\n", "go.mod:1: usage: godebug key=value"),
        (
            "godebug (\n\ta=b\n\tc\n)\n",
            "go.mod:3:2: usage: godebug key=value",
        ),
    ]);
}

#[test]
fn require_versions_are_canonicalized_and_checked() {
    const OK: &[(&str, &str)] = &[
        ("require x.com/a v1\n", "v1.0.0"),
        ("require x.com/a v1.2\n", "v1.2.0"),
        ("require x.com/a v1.2.3+meta\n", "v1.2.3"),
        (
            "require x.com/a v2.0.0+incompatible\n",
            "v2.0.0+incompatible",
        ),
        ("require x.com/a \"v1.0.0\"\n", "v1.0.0"),
        ("require x.com/a/v2 v2.1.0\n", "v2.1.0"),
        ("require gopkg.in/yaml.v2 v2.4.0\n", "v2.4.0"),
        (
            "require gopkg.in/check.v1 v0.0.0-20161208181325-20d25e280405\n",
            "v0.0.0-20161208181325-20d25e280405",
        ),
        ("require ./not/checked v1.0.0\n", "v1.0.0"),
    ];
    for &(input, want) in OK {
        assert_eq!(strict(input).unwrap().require[0].version, want, "{input:?}");
    }
    assert_strict_errors(&[
        (
            "require x.com/a 1.0.0\n",
            "go.mod:1: require x.com/a: version \"1.0.0\" invalid: must be of the form v1.2.3",
        ),
        (
            "require x.com/a latest\n",
            "go.mod:1: require x.com/a: version \"latest\" invalid: must be of the form v1.2.3",
        ),
        (
            "require x.com/a v1.2-pre\n",
            "go.mod:1: require x.com/a: version \"v1.2-pre\" invalid: must be of the form v1.2.3",
        ),
        (
            "require x.com/a v2.0.0\n",
            "go.mod:1: require x.com/a: version \"v2.0.0\" invalid: should be v0 or v1, not v2",
        ),
        (
            "require x.com/a/v2 v1.0.0\n",
            "go.mod:1: require x.com/a/v2: version \"v1.0.0\" invalid: should be v2, not v1",
        ),
        (
            "require x.com/a/v2 v0.0.0-20200101000000-abcdefabcdef\n",
            "go.mod:1: require x.com/a/v2: version \"v0.0.0-20200101000000-abcdefabcdef\" invalid: should be v2, not v0",
        ),
        (
            "exclude gopkg.in/yaml.v2 v3.0.0\n",
            "go.mod:1: exclude gopkg.in/yaml.v2: version \"v3.0.0\" invalid: should be v2, not v3",
        ),
        (
            "require x.com/a/v1 v1.0.0\n",
            "go.mod:1: invalid module path",
        ),
        (
            "require gopkg.in/yaml v1.0.0\n",
            "go.mod:1: invalid module path",
        ),
        (
            "require x.com/a \"v1\\q\"\n",
            "go.mod:1: require x.com/a: version \"\\\"v1\\\\q\\\"\" invalid: invalid syntax",
        ),
        (
            "require x.com/a'b v1.0.0\n",
            "go.mod:1: invalid quoted string: unquoted string cannot contain quote",
        ),
    ]);
}

#[test]
fn is_indirect_needs_indirect_as_first_comment_word() {
    const CASES: &[(&str, bool)] = &[
        ("require x.com/a v1.0.0 // indirect\n", true),
        ("require x.com/a v1.0.0 //indirect\n", true),
        ("require x.com/a v1.0.0 // indirect; for tests\n", true),
        ("require x.com/a v1.0.0 // indirect;\n", false),
        ("require x.com/a v1.0.0 // indirect for tests\n", false),
        ("require x.com/a v1.0.0 // Indirect\n", false),
        ("require x.com/a v1.0.0\n", false),
        ("// indirect\nrequire x.com/a v1.0.0\n", false),
        ("require (\n\tx.com/a v1.0.0 // indirect\n)\n", true),
        ("require ( // indirect\n\tx.com/a v1.0.0\n)\n", false),
    ];
    for &(input, want) in CASES {
        assert_eq!(
            strict(input).unwrap().require[0].indirect,
            want,
            "{input:?}"
        );
    }
}

/// (old path, old version, new path, new version) of a replace directive.
type ReplaceParts = (
    &'static str,
    Option<&'static str>,
    &'static str,
    Option<&'static str>,
);

#[test]
fn replace_forms_and_directory_paths() {
    const OK: &[(&str, ReplaceParts)] = &[
        ("replace a.com/x => ./x\n", ("a.com/x", None, "./x", None)),
        (
            "replace a.com/x v1.0.0 => ../x\n",
            ("a.com/x", Some("v1.0.0"), "../x", None),
        ),
        (
            "replace a.com/x => b.com/y v1.2\n",
            ("a.com/x", None, "b.com/y", Some("v1.2.0")),
        ),
        (
            "replace a.com/x v1.0.0 => b.com/y v2.0.0\n",
            ("a.com/x", Some("v1.0.0"), "b.com/y", Some("v2.0.0")),
        ),
        (
            "replace a.com/x => /abs/x\n",
            ("a.com/x", None, "/abs/x", None),
        ),
        ("replace a.com/x => .\n", ("a.com/x", None, ".", None)),
        (
            "replace a.com/x => \"./with space\"\n",
            ("a.com/x", None, "./with space", None),
        ),
        (
            "replace (\n\ta.com/x => ./x\n)\n",
            ("a.com/x", None, "./x", None),
        ),
    ];
    for &(input, (op, ov, np, nv)) in OK {
        let r = &strict(input).unwrap().replace[0];
        assert_eq!(
            (
                r.old_path.as_str(),
                r.old_version.as_deref(),
                r.new_path.as_str(),
                r.new_version.as_deref()
            ),
            (op, ov, np, nv),
            "{input:?}"
        );
    }
    let usage = "usage: replace module/path [v1.2.3] => other/module v1.4\n\t or replace module/path [v1.2.3] => ../local/directory";
    assert_strict_errors(&[
        ("replace a.com/x\n", &format!("go.mod:1: {usage}")),
        ("replace a.com/x ./x\n", &format!("go.mod:1: {usage}")),
        (
            "replace a.com/x v1 v2 => ./x\n",
            &format!("go.mod:1: {usage}"),
        ),
        (
            "replace a.com/x => b.com/y v1 extra\n",
            &format!("go.mod:1: {usage}"),
        ),
        (
            "replace a.com/x => b.com/y\n",
            "go.mod:1: replacement module without version must be directory path (rooted or starting with . or ..)",
        ),
        (
            "replace a.com/x => b.com/y@v1.0.0\n",
            "go.mod:1: replacement module must match format 'path version', not 'path@version'",
        ),
        (
            "replace a.com/x => ./y v1.0.0\n",
            "go.mod:1: replacement module directory path \"./y\" cannot have version",
        ),
        (
            "replace a.com/x => C:\\y\n",
            "go.mod:1: replacement directory appears to be Windows path (on a non-windows system)",
        ),
        (
            "replace a.com/x/v1 => ./y\n",
            "go.mod:1: replace a.com/x/v1: invalid module path",
        ),
        (
            "replace a.com/x v2.0.0 => ./y\n",
            "go.mod:1: replace a.com/x: version \"v2.0.0\" invalid: should be v0 or v1, not v2",
        ),
        (
            "replace a.com/x => b.com/y latest\n",
            "go.mod:1: replace b.com/y: version \"latest\" invalid: must be of the form v1.2.3",
        ),
    ]);
    assert!(is_directory_path("..\\x"));
    assert!(is_directory_path("\\x"));
    assert!(is_directory_path("c:"));
    assert!(!is_directory_path(".x"));
    assert!(!is_directory_path("x/./y"));
}

#[test]
fn retract_intervals_and_rationale() {
    const OK: &[(&str, (&str, &str, &str))] = &[
        ("module m\nretract v1.0.0\n", ("v1.0.0", "v1.0.0", "")),
        (
            "module m\nretract [v1.0.0, v1.0.5]\n",
            ("v1.0.0", "v1.0.5", ""),
        ),
        (
            "module m\nretract [v1.0.0,v1.0.5]\n",
            ("v1.0.0", "v1.0.5", ""),
        ),
        ("module m\nretract \"v1.0.0\"\n", ("v1.0.0", "v1.0.0", "")),
        // With a nil fixer Go does not check the bounds.
        ("module m\nretract v1\n", ("v1", "v1", "")),
        ("retract latest\n", ("latest", "latest", "")),
        (
            "module m\n// one\n// two\nretract v1.0.0 // three\n",
            ("v1.0.0", "v1.0.0", "one\ntwo\nthree"),
        ),
        (
            "module m\n// far\n\nretract v1.0.0\n",
            ("v1.0.0", "v1.0.0", ""),
        ),
        (
            "module m\n// block\nretract (\n\tv1.0.0\n)\n",
            ("v1.0.0", "v1.0.0", "block"),
        ),
        (
            "module m\n// block\nretract (\n\t// a\n\n\t// b\n\tv1.0.0\n)\n",
            ("v1.0.0", "v1.0.0", "a\nb"),
        ),
        (
            "module m\nretract ( // paren\n\tv1.0.0\n)\n",
            ("v1.0.0", "v1.0.0", ""),
        ),
    ];
    for &(input, (low, high, why)) in OK {
        let r = &strict(input).unwrap().retract[0];
        assert_eq!(
            (r.low.as_str(), r.high.as_str(), r.rationale.as_str()),
            (low, high, why),
            "{input:?}"
        );
    }
    assert_strict_errors(&[
        ("retract\n", "go.mod:1: expected '[' or version"),
        ("retract ( v1 )\n", "go.mod:1: expected '[' or version"),
        ("retract [\n", "go.mod:1: expected version after '['"),
        ("retract [v1.0.0]\n", "go.mod:1: expected ',' after version"),
        ("retract [v1.0.0,\n", "go.mod:1: expected version after ','"),
        (
            "retract [v1.0.0, v1.1.0\n",
            "go.mod:1: expected ']' after version",
        ),
        (
            "retract [v1.0.0, v1.1.0)\n",
            "go.mod:1: expected ']' after version",
        ),
        (
            "retract v1.0.0 v1.0.1\n",
            "go.mod:1: unexpected token after version: \"v1.0.1\"",
        ),
        (
            "retract [v1.0.0, v1.1.0] x\n",
            "go.mod:1: unexpected token after version: \"x\"",
        ),
        (
            "retract a'b\n",
            "go.mod:1: retract: version \"a'b\" invalid: unquoted string cannot contain quote",
        ),
    ]);
    // Lax mode skips retractions it cannot read and ignores what follows a readable one.
    let f = lax("retract ( v1 )\nretract v1.0.0 extra\n").unwrap();
    assert_eq!(f.retract.len(), 1);
    assert_eq!(f.retract[0].low, "v1.0.0");
}

#[test]
fn tool_and_ignore_take_one_path() {
    let f = strict("tool (\n\tx.com/a/cmd\n\t\"x.com/b c\"\n)\nignore (\n\t./a\n\tb\n)\n").unwrap();
    assert_eq!(
        f.tool,
        vec!["x.com/a/cmd".to_string(), "x.com/b c".to_string()]
    );
    assert_eq!(f.ignore, vec!["./a".to_string(), "b".to_string()]);
    assert_strict_errors(&[
        (
            "ignore a b\n",
            "go.mod:1: ignore directive expects exactly one argument",
        ),
        (
            "tool `x`\n",
            "go.mod:1: invalid quoted string: unquoted string cannot contain quote",
        ),
    ]);
}

#[test]
fn syntax_errors_stop_parsing_with_one_error() {
    assert_strict_errors(&[
        (
            "module m\nrequire (\n\tx.com/a v1.0.0\n",
            "go.mod:4: syntax error (unterminated block started at go.mod:2:1)",
        ),
        (
            "foo\nrequire (\n) x\n",
            "go.mod:3:4: syntax error (expected newline after closing paren)",
        ),
        (
            "module m /* c */\n",
            "go.mod:1:10: mod files must use // comments (not /* */ comments)",
        ),
    ]);
}

#[test]
fn empty_and_comment_only_files_parse() {
    for input in [
        "",
        "\n\n",
        "// just a comment",
        "require ()\n",
        "require (\n)\n",
    ] {
        assert_eq!(strict(input).unwrap(), ModFile::default(), "{input:?}");
    }
}

#[test]
fn crlf_line_endings_are_accepted() {
    let f = strict("module m\r\n\r\nrequire (\r\n\tx.com/a v1.0.0 // indirect\r\n)\r\n").unwrap();
    assert!(f.require[0].indirect);
}

#[test]
fn module_path_tolerates_broken_files() {
    const CASES: &[(&str, Option<&str>)] = &[
        ("module example.com/m\n", Some("example.com/m")),
        (
            "garbage (\n\tmodule x.com/in/block\n",
            Some("x.com/in/block"),
        ),
        ("require x v1\n  module\tx.com/m // c\n", Some("x.com/m")),
        ("module \"x.com/q\"\n", Some("x.com/q")),
        ("module `x.com/raw`\n", Some("x.com/raw")),
        ("module \"x.com/bad\n", None),
        ("module \"x.com/a\" \"x.com/b\"\n", None),
        ("modulex x.com/m\nmodule\nmodule x.com/n\n", Some("x.com/n")),
        ("module a b\n", Some("a b")),
        ("module \"\"\nmodule x.com/m\n", None),
        ("go 1.21\n", None),
        ("", None),
    ];
    for &(input, want) in CASES {
        assert_eq!(module_path(input.as_bytes()).as_deref(), want, "{input:?}");
    }
}

#[test]
fn invalid_utf8_is_carried_as_replacement_characters() {
    let f = parse("go.mod", b"module x.com/\xff\n").unwrap();
    assert_eq!(f.module.unwrap().path, "x.com/\u{FFFD}");
    let err = parse("go.mod", b"require x.com/a v1.0.0\xff\n").unwrap_err();
    assert_eq!(
        err.to_string(),
        "go.mod:1: require x.com/a: version \"v1.0.0\\xff\" invalid: must be of the form v1.2.3"
    );
}
