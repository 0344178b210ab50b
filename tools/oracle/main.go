// Command oracle runs the Go toolchain's own golang.org/x/mod code (zip, sumdb/dirhash, module),
// vendored from $GOROOT/src/cmd/vendor by build.sh, so that modferry's Rust implementation of
// module zips and h1: hashes can be compared with Go's answers.
//
// It is a test tool, not part of modferry. Build it with tools/oracle/build.sh; regenerate the
// vectors under crates/formats/tests/data with scripts/gen-vectors.sh.
//
// Subcommands:
//
//	oracle create <module> <version> <dir> <out.zip>   zip.CreateFromDir
//	oracle hashzip <zip>                               dirhash.HashZip(zip, dirhash.Hash1)
//	oracle hashmod <go.mod>                            the go.mod hash go records as "<mod> <ver>/go.mod h1:..."
//	oracle checkzip <module> <version> <zip>           zip.CheckZip, as JSON
//	oracle checkdir <dir>                              zip.CheckDir, as JSON (paths relative to dir)
//	oracle foldclasses                                 Unicode case-fold classes (strings.EqualFold), one per line
//	oracle vector <case.txtar>...                      rewrite the want.* lines of vector files
//	oracle notevectors <dir>                           sumdb/note vectors as JSON (see sumdb.go)
//	oracle tlogvectors <dir>                           sumdb/tlog vectors as JSON (see sumdb.go)
//
// A vector file is a txtar archive. Its comment (the text before the first "-- name --" line)
// holds key=value lines written by hand (inputs) and want.* lines written by this program
// (expected results); every other comment line is prose and kept as is. Input keys:
//
//	kind=tree|zip|hash1|gomod   what the sections are (default tree)
//	module=, version=           the module version for tree and zip cases
//	symlink=NAME -> TARGET      tree: also create a symbolic link
//	fifo=NAME                   tree: also create a named pipe (an irregular file)
//	pad=NAME SIZE               tree: extend (or create) NAME to SIZE bytes with NUL bytes (sparse)
//	rawfile=HEX                 tree: create an empty file whose name is these bytes (non-UTF-8 names)
//	mkdir=NAME                  tree: create an empty directory
//	zip=FILE.zip                tree: write Go's CreateFromDir zip next to the vector;
//	                            zip: write the sections as zip entries, in order, to this file
//
// Paths in want.* lines are relative to the module root; invalid UTF-8 in them is replaced by
// U+FFFD, and newlines in error messages by " | ".
package main

import (
	"archive/zip"
	"bufio"
	"bytes"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"unicode"

	"golang.org/x/mod/module"
	"golang.org/x/mod/sumdb/dirhash"
	modzip "golang.org/x/mod/zip"
)

func main() {
	if len(os.Args) < 2 {
		usage()
	}
	cmd, args := os.Args[1], os.Args[2:]
	var err error
	switch cmd {
	case "create":
		need(args, 4)
		err = cmdCreate(args[0], args[1], args[2], args[3])
	case "hashzip":
		need(args, 1)
		var h string
		if h, err = dirhash.HashZip(args[0], dirhash.Hash1); err == nil {
			fmt.Println(h)
		}
	case "hashmod":
		need(args, 1)
		var data []byte
		if data, err = os.ReadFile(args[0]); err == nil {
			var h string
			if h, err = hashGoMod(data); err == nil {
				fmt.Println(h)
			}
		}
	case "checkzip":
		need(args, 3)
		cf, cerr := modzip.CheckZip(module.Version{Path: args[0], Version: args[1]}, args[2])
		err = printJSON(toReport(cf, cerr, ""))
	case "checkdir":
		need(args, 1)
		cf, cerr := modzip.CheckDir(args[0])
		err = printJSON(toReport(cf, cerr, args[0]))
	case "foldclasses":
		err = foldClasses()
	case "notevectors":
		need(args, 1)
		err = noteVectors(args[0])
	case "tlogvectors":
		need(args, 1)
		err = tlogVectors(args[0])
	case "vector":
		if len(args) == 0 {
			usage()
		}
		for _, file := range args {
			if err = regenerate(file); err != nil {
				err = fmt.Errorf("%s: %w", file, err)
				break
			}
		}
	default:
		usage()
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "oracle: %v\n", err)
		os.Exit(1)
	}
}

// foldClasses prints every set of two or more code points that strings.EqualFold treats as
// equal (unicode.SimpleFold orbits), one set per line as space-separated hex numbers, ordered by
// smallest member. zip's case-collision rule uses exactly this equivalence.
func foldClasses() error {
	w := bufio.NewWriter(os.Stdout)
	for r := rune(0); r <= unicode.MaxRune; r++ {
		if unicode.SimpleFold(r) == r {
			continue
		}
		// Print each orbit once, from its smallest member.
		min := r
		for f := unicode.SimpleFold(r); f != r; f = unicode.SimpleFold(f) {
			if f < min {
				min = f
			}
		}
		if min != r {
			continue
		}
		fmt.Fprintf(w, "%04X", r)
		for f := unicode.SimpleFold(r); f != r; f = unicode.SimpleFold(f) {
			fmt.Fprintf(w, " %04X", f)
		}
		fmt.Fprintln(w)
	}
	return w.Flush()
}

func usage() {
	fmt.Fprintln(os.Stderr, "usage: oracle create|hashzip|hashmod|checkzip|checkdir|vector ... (see main.go)")
	os.Exit(2)
}

func need(args []string, n int) {
	if len(args) != n {
		usage()
	}
}

func cmdCreate(path, version, dir, out string) error {
	f, err := os.Create(out)
	if err != nil {
		return err
	}
	if err := modzip.CreateFromDir(f, module.Version{Path: path, Version: version}, dir); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// hashGoMod is the hash the go command records for "<module> <version>/go.mod" (modfetch goModSum).
func hashGoMod(data []byte) (string, error) {
	return dirhash.Hash1([]string{"go.mod"}, func(string) (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(data)), nil
	})
}

type fileErr struct {
	Path string `json:"path"`
	Err  string `json:"err"`
}

type report struct {
	Valid     []string  `json:"valid"`
	Omitted   []fileErr `json:"omitted"`
	Invalid   []fileErr `json:"invalid"`
	SizeError string    `json:"size_error,omitempty"`
	Err       string    `json:"err,omitempty"`
}

// toReport flattens a CheckedFiles; paths under root (CheckDir joins them to the directory) are
// made relative again.
func toReport(cf modzip.CheckedFiles, err error, root string) report {
	rel := func(p string) string {
		if root == "" {
			return p
		}
		if p == root {
			return "."
		}
		r, rerr := filepath.Rel(root, p)
		if rerr != nil {
			return p
		}
		return filepath.ToSlash(r)
	}
	rp := report{Valid: []string{}, Omitted: []fileErr{}, Invalid: []fileErr{}}
	for _, p := range cf.Valid {
		rp.Valid = append(rp.Valid, rel(p))
	}
	for _, fe := range cf.Omitted {
		rp.Omitted = append(rp.Omitted, fileErr{rel(fe.Path), fe.Err.Error()})
	}
	for _, fe := range cf.Invalid {
		rp.Invalid = append(rp.Invalid, fileErr{rel(fe.Path), fe.Err.Error()})
	}
	if cf.SizeError != nil {
		rp.SizeError = cf.SizeError.Error()
	}
	if err != nil {
		rp.Err = err.Error()
	}
	return rp
}

func printJSON(v any) error {
	enc := json.NewEncoder(os.Stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// --- vector files ---

type section struct {
	name string
	data []byte
}

// splitTxtar splits a txtar file into its comment and the rest (from the first marker line on),
// and parses the sections. A marker line is "-- NAME --"; a section's data runs to the next
// marker line or the end of the file, unchanged.
func splitTxtar(data []byte) (comment, rest []byte, sections []section) {
	var cur *section
	start := -1
	for off := 0; off < len(data); {
		end := bytes.IndexByte(data[off:], '\n')
		next := len(data)
		line := data[off:]
		if end >= 0 {
			next = off + end + 1
			line = data[off : off+end]
		}
		if name, ok := markerName(line); ok {
			if cur == nil {
				start = off
			} else {
				sections = append(sections, *cur)
			}
			cur = &section{name: name}
		} else if cur != nil {
			cur.data = append(cur.data, data[off:next]...)
		}
		off = next
	}
	if cur == nil {
		return data, nil, nil
	}
	sections = append(sections, *cur)
	return data[:start], data[start:], sections
}

func markerName(line []byte) (string, bool) {
	s := string(line)
	if !strings.HasPrefix(s, "-- ") || !strings.HasSuffix(s, " --") || len(s) < len("-- x --") {
		return "", false
	}
	name := strings.TrimSpace(s[3 : len(s)-3])
	return name, name != ""
}

type vector struct {
	file     string
	kind     string
	mod      module.Version
	keys     [][2]string // input directives in order
	zipName  string
	sections []section
}

func regenerate(file string) error {
	data, err := os.ReadFile(file)
	if err != nil {
		return err
	}
	comment, rest, sections := splitTxtar(data)
	v := vector{file: file, kind: "tree", sections: sections}
	var kept []string
	for _, line := range strings.SplitAfter(string(comment), "\n") {
		if line == "" {
			continue
		}
		if strings.HasPrefix(line, "want.") {
			continue
		}
		kept = append(kept, line)
		key, val, ok := strings.Cut(strings.TrimRight(line, "\n"), "=")
		if !ok || strings.HasPrefix(key, "#") || strings.ContainsAny(key, " \t") {
			continue
		}
		switch key {
		case "kind":
			v.kind = val
		case "module":
			v.mod.Path = val
		case "version":
			v.mod.Version = val
		case "zip":
			v.zipName = val
		default:
			v.keys = append(v.keys, [2]string{key, val})
		}
	}

	var want []string
	switch v.kind {
	case "tree":
		want, err = v.runTree()
	case "zip":
		want, err = v.runZip()
	case "hash1":
		want, err = v.runHash1()
	case "gomod":
		want, err = v.runGoMod()
	default:
		err = fmt.Errorf("unknown kind %q", v.kind)
	}
	if err != nil {
		return err
	}

	var out bytes.Buffer
	for _, line := range kept {
		out.WriteString(line)
		if !strings.HasSuffix(line, "\n") {
			out.WriteByte('\n')
		}
	}
	for _, w := range want {
		out.WriteString(w)
		out.WriteByte('\n')
	}
	out.Write(rest)
	return os.WriteFile(file, out.Bytes(), 0o666)
}

func (v *vector) runTree() ([]string, error) {
	tmp, err := os.MkdirTemp("", "oracle-tree-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)
	root := filepath.Join(tmp, "m")
	if err := v.materialize(root); err != nil {
		return nil, err
	}
	clean := func(s string) string { return strings.ReplaceAll(s, root, "$DIR") }

	var want []string
	// files: every non-directory in the tree handed to zip.Create, as a caller with its own
	// file list would do (no VCS or nested-module directory pruning).
	files, err := allFiles(root)
	if err != nil {
		return nil, err
	}
	cf, cerr := modzip.CheckFiles(files)
	want = append(want, reportLines("files", toReport(cf, cerr, ""), clean)...)
	var buf bytes.Buffer
	if err := modzip.Create(&buf, v.mod, files); err != nil {
		want = append(want, "want.files.create_err="+oneLine(clean(err.Error())))
	} else {
		h, err := hashZipBytes(buf.Bytes())
		if err != nil {
			return nil, err
		}
		want = append(want, "want.files.h1="+h)
	}

	// dir: zip.CheckDir and zip.CreateFromDir over the directory.
	dcf, derr := modzip.CheckDir(root)
	want = append(want, reportLines("dir", toReport(dcf, derr, root), clean)...)
	zipPath := filepath.Join(tmp, "out.zip")
	if err := cmdCreate(v.mod.Path, v.mod.Version, root, zipPath); err != nil {
		want = append(want, "want.dir.create_err="+oneLine(clean(err.Error())))
		if v.zipName != "" {
			return nil, fmt.Errorf("zip=%s requested but CreateFromDir failed: %v", v.zipName, err)
		}
		return want, nil
	}
	h, err := dirhash.HashZip(zipPath, dirhash.Hash1)
	if err != nil {
		return nil, err
	}
	want = append(want, "want.dir.h1="+h)

	if v.zipName != "" {
		data, err := os.ReadFile(zipPath)
		if err != nil {
			return nil, err
		}
		out := filepath.Join(filepath.Dir(v.file), v.zipName)
		if err := os.WriteFile(out, data, 0o666); err != nil {
			return nil, err
		}
		zw, err := v.zipWants(out)
		if err != nil {
			return nil, err
		}
		want = append(want, zw...)
	}
	return want, nil
}

// runZip writes the sections as zip entries with Go's archive/zip (a name ending in "/" is a
// directory entry) and records CheckZip and HashZip of the result.
func (v *vector) runZip() ([]string, error) {
	if v.zipName == "" {
		return nil, fmt.Errorf("kind=zip needs zip=FILE.zip")
	}
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, s := range v.sections {
		w, err := zw.Create(s.name)
		if err != nil {
			return nil, err
		}
		if !strings.HasSuffix(s.name, "/") {
			if _, err := w.Write(s.data); err != nil {
				return nil, err
			}
		}
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	out := filepath.Join(filepath.Dir(v.file), v.zipName)
	if err := os.WriteFile(out, buf.Bytes(), 0o666); err != nil {
		return nil, err
	}
	return v.zipWants(out)
}

func (v *vector) zipWants(zipPath string) ([]string, error) {
	cf, err := modzip.CheckZip(v.mod, zipPath)
	want := reportLines("zip", toReport(cf, err, ""), func(s string) string { return s })
	h, err := dirhash.HashZip(zipPath, dirhash.Hash1)
	if err != nil {
		want = append(want, "want.zip.hash_err="+oneLine(err.Error()))
	} else {
		want = append(want, "want.zip.h1="+h)
	}
	return want, nil
}

// runHash1 hashes the sections as a file list (names as given, contents as given).
func (v *vector) runHash1() ([]string, error) {
	var names []string
	content := map[string][]byte{}
	for _, s := range v.sections {
		names = append(names, s.name)
		content[s.name] = s.data
	}
	h, err := dirhash.Hash1(names, func(name string) (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(content[name])), nil
	})
	if err != nil {
		return []string{"want.err=" + oneLine(err.Error())}, nil
	}
	return []string{"want.h1=" + h}, nil
}

// runGoMod hashes the single section as a go.mod file.
func (v *vector) runGoMod() ([]string, error) {
	if len(v.sections) != 1 {
		return nil, fmt.Errorf("kind=gomod needs exactly one section")
	}
	h, err := hashGoMod(v.sections[0].data)
	if err != nil {
		return nil, err
	}
	return []string{"want.h1=" + h}, nil
}

func (v *vector) materialize(root string) error {
	if err := os.MkdirAll(root, 0o777); err != nil {
		return err
	}
	for _, s := range v.sections {
		p := filepath.Join(root, filepath.FromSlash(s.name))
		if strings.HasSuffix(s.name, "/") {
			if err := os.MkdirAll(p, 0o777); err != nil {
				return err
			}
			continue
		}
		if err := os.MkdirAll(filepath.Dir(p), 0o777); err != nil {
			return err
		}
		if err := os.WriteFile(p, s.data, 0o666); err != nil {
			return err
		}
	}
	for _, kv := range v.keys {
		key, val := kv[0], kv[1]
		switch key {
		case "symlink":
			name, target, ok := strings.Cut(val, " -> ")
			if !ok {
				return fmt.Errorf("symlink=%s: want NAME -> TARGET", val)
			}
			p := filepath.Join(root, filepath.FromSlash(name))
			if err := os.MkdirAll(filepath.Dir(p), 0o777); err != nil {
				return err
			}
			if err := os.Symlink(target, p); err != nil {
				return err
			}
		case "fifo":
			p := filepath.Join(root, filepath.FromSlash(val))
			if err := os.MkdirAll(filepath.Dir(p), 0o777); err != nil {
				return err
			}
			if err := syscall.Mkfifo(p, 0o666); err != nil {
				return err
			}
		case "pad":
			name, size, ok := strings.Cut(val, " ")
			n, err := strconv.ParseInt(size, 10, 64)
			if !ok || err != nil {
				return fmt.Errorf("pad=%s: want NAME SIZE", val)
			}
			p := filepath.Join(root, filepath.FromSlash(name))
			if err := os.MkdirAll(filepath.Dir(p), 0o777); err != nil {
				return err
			}
			f, err := os.OpenFile(p, os.O_CREATE|os.O_WRONLY, 0o666)
			if err != nil {
				return err
			}
			if err := f.Truncate(n); err != nil {
				f.Close()
				return err
			}
			if err := f.Close(); err != nil {
				return err
			}
		case "rawfile":
			name, err := hex.DecodeString(val)
			if err != nil {
				return fmt.Errorf("rawfile=%s: %v", val, err)
			}
			p := filepath.Join(root, string(name))
			if err := os.MkdirAll(filepath.Dir(p), 0o777); err != nil {
				return err
			}
			if err := os.WriteFile(p, nil, 0o666); err != nil {
				return err
			}
		case "mkdir":
			if err := os.MkdirAll(filepath.Join(root, filepath.FromSlash(val)), 0o777); err != nil {
				return err
			}
		default:
			return fmt.Errorf("unknown key %q", key)
		}
	}
	return nil
}

// treeFile is a zip.File over a file on disk, described by Lstat (links are not followed).
type treeFile struct {
	path, slash string
	info        os.FileInfo
}

func (f treeFile) Path() string                 { return f.slash }
func (f treeFile) Lstat() (os.FileInfo, error)  { return f.info, nil }
func (f treeFile) Open() (io.ReadCloser, error) { return os.Open(f.path) }

// allFiles lists every non-directory under root, in filepath.Walk order.
func allFiles(root string) ([]modzip.File, error) {
	var files []modzip.File
	err := filepath.Walk(root, func(p string, info os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		if info.IsDir() {
			return nil
		}
		rel, err := filepath.Rel(root, p)
		if err != nil {
			return err
		}
		files = append(files, treeFile{path: p, slash: filepath.ToSlash(rel), info: info})
		return nil
	})
	return files, err
}

func hashZipBytes(data []byte) (string, error) {
	f, err := os.CreateTemp("", "oracle-*.zip")
	if err != nil {
		return "", err
	}
	defer os.Remove(f.Name())
	if _, err := f.Write(data); err != nil {
		f.Close()
		return "", err
	}
	if err := f.Close(); err != nil {
		return "", err
	}
	return dirhash.HashZip(f.Name(), dirhash.Hash1)
}

func reportLines(mode string, rp report, clean func(string) string) []string {
	var lines []string
	p := "want." + mode + "."
	for _, v := range rp.Valid {
		lines = append(lines, p+"valid="+printable(v))
	}
	for _, fe := range rp.Omitted {
		lines = append(lines, p+"omitted="+printable(fe.Path)+": "+oneLine(printable(clean(fe.Err))))
	}
	for _, fe := range rp.Invalid {
		lines = append(lines, p+"invalid="+printable(fe.Path)+": "+oneLine(printable(clean(fe.Err))))
	}
	if rp.SizeError != "" {
		lines = append(lines, p+"size_error="+oneLine(rp.SizeError))
	}
	if rp.Err != "" {
		lines = append(lines, p+"err="+oneLine(printable(clean(rp.Err))))
	}
	return lines
}

func printable(s string) string { return strings.ToValidUTF8(s, "\uFFFD") }

func oneLine(s string) string { return strings.ReplaceAll(s, "\n", " | ") }
