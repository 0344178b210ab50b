// Command oracle-modfile runs golang.org/x/mod/modfile (the real Go implementation, vendored
// offline from the toolchain by build.sh) over go.mod / go.work inputs and records what it
// returns, so that modferry-formats' own parsers can be compared with Go's.
//
// Each test vector is a txtar file, one case per file, named after the rule it checks:
//
//	<comment: what the case checks>
//	-- go.mod --      (or -- go.work --)
//	<input, used byte for byte>
//	-- want.json --
//	<written by this program>
//
// Usage:
//
//	oracle-modfile regen FILE.txtar...   recompute and rewrite each file's want.json section
//	oracle-modfile check FILE.txtar...   exit 1 if any want.json differs from what Go returns now
//	oracle-modfile tables                print the Rust table of unicode.IsPrint ranges
//
// For a go.mod input, want.json holds the results of modfile.Parse, modfile.ParseLax (both with a
// nil VersionFixer, as cmd/go does for dependencies and `go mod edit`) and modfile.ModulePath.
// For a go.work input it holds the result of modfile.ParseWork (nil fixer, as cmd/go does).
// A result is either {"errors": [one string per modfile.Error]} or {"file": {...}} with the
// fields modferry's Rust types have (absent optional values are null, lists are never null).
package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
	"unicode"

	"golang.org/x/mod/modfile"
)

func main() {
	if len(os.Args) < 2 {
		usage()
	}
	switch os.Args[1] {
	case "regen", "check":
		failed := false
		for _, name := range os.Args[2:] {
			if err := runFile(name, os.Args[1] == "regen"); err != nil {
				fmt.Fprintf(os.Stderr, "%s: %v\n", name, err)
				failed = true
			}
		}
		if failed {
			os.Exit(1)
		}
	case "tables":
		printTables()
	default:
		usage()
	}
}

func usage() {
	fmt.Fprintln(os.Stderr, "usage: oracle-modfile regen|check FILE.txtar... | oracle-modfile tables")
	os.Exit(2)
}

// section is one "-- name --" part of a txtar file.
type section struct {
	name string
	data []byte
}

// splitTxtar splits a txtar archive into its leading comment and its sections. A marker line is
// "-- NAME --"; a section's data runs from the line after its marker to the start of the next
// marker line (or the end of the file), byte for byte.
func splitTxtar(data []byte) (comment []byte, sections []section) {
	var cur *section
	rest := data
	for len(rest) > 0 {
		line := rest
		next := []byte(nil)
		if i := bytes.IndexByte(rest, '\n'); i >= 0 {
			line, next = rest[:i+1], rest[i+1:]
		}
		trimmed := bytes.TrimSuffix(line, []byte("\n"))
		if bytes.HasPrefix(trimmed, []byte("-- ")) && bytes.HasSuffix(trimmed, []byte(" --")) && len(trimmed) >= 6 {
			name := strings.TrimSpace(string(trimmed[3 : len(trimmed)-3]))
			sections = append(sections, section{name: name})
			cur = &sections[len(sections)-1]
		} else if cur == nil {
			comment = append(comment, line...)
		} else {
			cur.data = append(cur.data, line...)
		}
		rest = next
	}
	return comment, sections
}

func runFile(name string, regen bool) error {
	data, err := os.ReadFile(name)
	if err != nil {
		return err
	}
	comment, sections := splitTxtar(data)
	var input *section
	var want []byte
	for i := range sections {
		switch sections[i].name {
		case "go.mod", "go.work":
			if input != nil {
				return errors.New("more than one input section")
			}
			input = &sections[i]
		case "want.json":
			want = sections[i].data
		default:
			return fmt.Errorf("unknown section %q", sections[i].name)
		}
	}
	if input == nil {
		return errors.New("no go.mod or go.work section")
	}
	var result any
	if input.name == "go.mod" {
		result = map[string]any{
			"parse":       modResult(modfile.Parse("go.mod", input.data, nil)),
			"parse_lax":   modResult(modfile.ParseLax("go.mod", input.data, nil)),
			"module_path": optional(modfile.ModulePath(input.data)),
		}
	} else {
		result = map[string]any{
			"parse_work": workResult(modfile.ParseWork("go.work", input.data, nil)),
		}
	}
	got, err := json.MarshalIndent(result, "", "  ")
	if err != nil {
		return err
	}
	got = append(got, '\n')
	if !regen {
		if !bytes.Equal(got, want) {
			return fmt.Errorf("want.json is stale; Go now returns:\n%s", got)
		}
		return nil
	}
	var out bytes.Buffer
	out.Write(comment)
	fmt.Fprintf(&out, "-- %s --\n", input.name)
	out.Write(input.data)
	if len(input.data) > 0 && input.data[len(input.data)-1] != '\n' {
		return errors.New("input section must end with a newline (the want.json marker follows it)")
	}
	out.WriteString("-- want.json --\n")
	out.Write(got)
	return os.WriteFile(name, out.Bytes(), 0o666)
}

func optional(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

func errorStrings(err error) map[string]any {
	var list modfile.ErrorList
	msgs := []string{}
	if errors.As(err, &list) {
		for _, e := range list {
			msgs = append(msgs, e.Error())
		}
	} else {
		msgs = append(msgs, err.Error())
	}
	return map[string]any{"errors": msgs}
}

type jsonModule struct {
	Path       string  `json:"path"`
	Deprecated *string `json:"deprecated"`
	Line       int     `json:"line"`
}

type jsonGodebug struct {
	Key   string `json:"key"`
	Value string `json:"value"`
}

type jsonRequire struct {
	Path     string `json:"path"`
	Version  string `json:"version"`
	Indirect bool   `json:"indirect"`
	Line     int    `json:"line"`
}

type jsonExclude struct {
	Path    string `json:"path"`
	Version string `json:"version"`
	Line    int    `json:"line"`
}

type jsonReplace struct {
	OldPath    string  `json:"old_path"`
	OldVersion *string `json:"old_version"`
	NewPath    string  `json:"new_path"`
	NewVersion *string `json:"new_version"`
	Line       int     `json:"line"`
}

type jsonRetract struct {
	Low       string `json:"low"`
	High      string `json:"high"`
	Rationale string `json:"rationale"`
	Line      int    `json:"line"`
}

type jsonModFile struct {
	Module    *jsonModule   `json:"module"`
	Go        *string       `json:"go"`
	Toolchain *string       `json:"toolchain"`
	Godebug   []jsonGodebug `json:"godebug"`
	Require   []jsonRequire `json:"require"`
	Exclude   []jsonExclude `json:"exclude"`
	Replace   []jsonReplace `json:"replace"`
	Retract   []jsonRetract `json:"retract"`
	Tool      []string      `json:"tool"`
	Ignore    []string      `json:"ignore"`
}

type jsonUse struct {
	Path       string  `json:"path"`
	ModulePath *string `json:"module_path"`
	Line       int     `json:"line"`
}

type jsonWorkFile struct {
	Go        *string       `json:"go"`
	Toolchain *string       `json:"toolchain"`
	Godebug   []jsonGodebug `json:"godebug"`
	Use       []jsonUse     `json:"use"`
	Replace   []jsonReplace `json:"replace"`
}

func godebugs(list []*modfile.Godebug) []jsonGodebug {
	out := []jsonGodebug{}
	for _, g := range list {
		out = append(out, jsonGodebug{g.Key, g.Value})
	}
	return out
}

func replaces(list []*modfile.Replace) []jsonReplace {
	out := []jsonReplace{}
	for _, r := range list {
		out = append(out, jsonReplace{r.Old.Path, optional(r.Old.Version), r.New.Path, optional(r.New.Version), r.Syntax.Start.Line})
	}
	return out
}

func modResult(f *modfile.File, err error) any {
	if err != nil {
		return errorStrings(err)
	}
	j := jsonModFile{
		Godebug: godebugs(f.Godebug),
		Require: []jsonRequire{},
		Exclude: []jsonExclude{},
		Replace: replaces(f.Replace),
		Retract: []jsonRetract{},
		Tool:    []string{},
		Ignore:  []string{},
	}
	if f.Module != nil {
		j.Module = &jsonModule{f.Module.Mod.Path, optional(f.Module.Deprecated), f.Module.Syntax.Start.Line}
	}
	if f.Go != nil {
		j.Go = &f.Go.Version
	}
	if f.Toolchain != nil {
		j.Toolchain = &f.Toolchain.Name
	}
	for _, r := range f.Require {
		j.Require = append(j.Require, jsonRequire{r.Mod.Path, r.Mod.Version, r.Indirect, r.Syntax.Start.Line})
	}
	for _, x := range f.Exclude {
		j.Exclude = append(j.Exclude, jsonExclude{x.Mod.Path, x.Mod.Version, x.Syntax.Start.Line})
	}
	for _, r := range f.Retract {
		j.Retract = append(j.Retract, jsonRetract{r.Low, r.High, r.Rationale, r.Syntax.Start.Line})
	}
	for _, t := range f.Tool {
		j.Tool = append(j.Tool, t.Path)
	}
	for _, i := range f.Ignore {
		j.Ignore = append(j.Ignore, i.Path)
	}
	return map[string]any{"file": j}
}

func workResult(f *modfile.WorkFile, err error) any {
	if err != nil {
		return errorStrings(err)
	}
	j := jsonWorkFile{
		Godebug: godebugs(f.Godebug),
		Use:     []jsonUse{},
		Replace: replaces(f.Replace),
	}
	if f.Go != nil {
		j.Go = &f.Go.Version
	}
	if f.Toolchain != nil {
		j.Toolchain = &f.Toolchain.Name
	}
	for _, u := range f.Use {
		j.Use = append(j.Use, jsonUse{u.Path, optional(u.ModulePath), u.Syntax.Start.Line})
	}
	return map[string]any{"file": j}
}

// printTables prints the code points at or above U+0080 for which unicode.IsPrint holds, as
// inclusive ranges in a Rust constant, for the lexer's notion of an identifier character.
func printTables() {
	fmt.Println("//! Code points at or above U+0080 that Go's `unicode.IsPrint` accepts, as sorted inclusive")
	fmt.Printf("//! ranges. Generated by `tools/oracle-modfile/bin/oracle-modfile tables` (Unicode %s,\n", unicode.Version)
	fmt.Println("//! the tables of the Go toolchain that build.sh used); do not edit by hand.")
	fmt.Println()
	fmt.Println("/// Inclusive `(first, last)` ranges of printable code points at or above U+0080.")
	fmt.Println("#[rustfmt::skip]")
	fmt.Println("pub(super) const PRINT_RANGES: &[(u32, u32)] = &[")
	start := rune(-1)
	for r := rune(0x80); r <= unicode.MaxRune+1; r++ {
		p := r <= unicode.MaxRune && unicode.IsPrint(r)
		if p && start < 0 {
			start = r
		} else if !p && start >= 0 {
			fmt.Printf("    (0x%04X, 0x%04X),\n", start, r-1)
			start = -1
		}
	}
	fmt.Println("];")
}
