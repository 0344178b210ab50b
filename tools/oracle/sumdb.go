// Vectors for checksum database formats: golang.org/x/mod/sumdb/note (keys, signed notes) and
// golang.org/x/mod/sumdb/tlog (hashes, proofs, tree heads, records, tiles), written as JSON
// files by the subcommands
//
//	oracle notevectors <dir>   keys.json, verify.json, sign.json, open.json
//	oracle tlogvectors <dir>   hashes.json, log.json, proofs.json, tiles.json, records.json
//
// The inputs are built here, deterministically (keys come from fixed seeds); every expected
// value is what x/mod returns for them. Byte strings that may not be UTF-8 are hex ("..._hex").
// scripts/gen-vectors.sh writes them to crates/formats/tests/data/{note,tlog}.
package main

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"unicode/utf8"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

// writeJSON writes v as indented JSON to dir/name.
func writeJSON(dir, name string, v any) error {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", " ")
	if err := enc.Encode(v); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, name), buf.Bytes(), 0o666)
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// seed returns the deterministic 32-byte seed number i.
func seed(i int) []byte {
	s := sha256.Sum256([]byte(fmt.Sprintf("modferry note seed %d", i)))
	return s[:]
}

func goKeyHash(name string, key []byte) uint32 {
	h := sha256.Sum256(append([]byte(name+"\n"), key...))
	return binary.BigEndian.Uint32(h[:4])
}

func b64(b []byte) string { return base64.StdEncoding.EncodeToString(b) }

// bytesField sets key (as text) when b is valid UTF-8, else key_hex.
func bytesField(m map[string]any, key string, b []byte) {
	if utf8.Valid(b) {
		m[key] = string(b)
	} else {
		m[key+"_hex"] = hex.EncodeToString(b)
	}
}

// --- note ---

type genKey struct {
	Name string `json:"name"`
	Seed string `json:"seed_hex"`
	Skey string `json:"skey"`
	Vkey string `json:"vkey"`
}

type sigJSON struct {
	Name   string `json:"name"`
	Hash   string `json:"hash"`
	Base64 string `json:"base64"`
}

func sigsJSON(sigs []note.Signature) []sigJSON {
	out := []sigJSON{}
	for _, s := range sigs {
		out = append(out, sigJSON{s.Name, fmt.Sprintf("%08x", s.Hash), s.Base64})
	}
	return out
}

func noteVectors(dir string) error {
	// Keys from fixed seeds.
	names := []string{"sum.example.com", "witness.example.org/log", "ünïcödé.example", "x"}
	var keys []genKey
	for i, name := range names {
		skey, vkey, err := note.GenerateKey(bytes.NewReader(seed(i)), name)
		if err != nil {
			return err
		}
		keys = append(keys, genKey{name, hex.EncodeToString(seed(i)), skey, vkey})
	}
	k0, k1, k2 := keys[0], keys[1], keys[2]
	signer := func(skey string) note.Signer {
		s, err := note.NewSigner(skey)
		if err != nil {
			panic(err)
		}
		return s
	}
	verifier := func(vkey string) note.Verifier {
		v, err := note.NewVerifier(vkey)
		if err != nil {
			panic(err)
		}
		return v
	}

	// Verifier and signer key parsing.
	_, vrest, _ := strings.Cut(k0.Vkey, "+")
	vhash, vkey64, _ := strings.Cut(vrest, "+")
	vdata, _ := base64.StdEncoding.DecodeString(vkey64)
	_, srest, _ := strings.Cut(strings.TrimPrefix(k0.Skey, "PRIVATE+KEY+"), "+")
	_, skey64, _ := strings.Cut(srest, "+")
	sdata, _ := base64.StdEncoding.DecodeString(skey64)
	withHash := func(name string, data []byte) string {
		return fmt.Sprintf("%s+%08x+%s", name, goKeyHash(name, data), b64(data))
	}
	alg2 := append([]byte{2}, vdata[1:]...)
	short := vdata[:32]
	long := append(append([]byte{}, vdata...), 0)
	// Base64 of the same bytes with non-zero unused trailing bits (33 bytes: none unused), so
	// use a 31-byte-key form: one byte of alg + 31 → 32 bytes → 2 unused bits.
	lax := withHash("lax", short)
	laxB64 := lax[strings.LastIndex(lax, "+")+1:]
	laxAlt := laxB64[:len(laxB64)-2] + string(nextB64(laxB64[len(laxB64)-2])) + "="
	// A 32-byte "public key" that is not a curve point still parses.
	var offCurve []byte
	for i := 0; ; i++ {
		cand := seed(1000 + i)
		if !onCurve(cand) {
			offCurve = cand
			break
		}
	}
	// The identity point as a public key (a weak key that Go accepts).
	identity := make([]byte, 32)
	identity[0] = 1

	vkeyInputs := []string{
		"sum.golang.org+033de0ae+Ac4zctda0e5eza+HJyk9SxEdh+s3Ux18htTTAD8OuAn8",
		"sum.golang.org+033de0ae+Ac4zctda0e5eza+HJyk9SxEdh+s3Ly18pmPuhNmlFdlyG",
		k0.Vkey, k1.Vkey, k2.Vkey, keys[3].Vkey,
		strings.Replace(k0.Vkey, vhash, strings.ToUpper(vhash), 1),
		strings.Replace(k0.Vkey, vhash, "00000000", 1),
		strings.Replace(k0.Vkey, vhash, vhash[:7], 1),
		strings.Replace(k0.Vkey, vhash, vhash+"0", 1),
		strings.Replace(k0.Vkey, vhash, "+"+vhash[1:], 1),
		strings.Replace(k0.Vkey, vhash, "0x"+vhash[2:], 1),
		strings.Replace(k0.Vkey, vkey64, vkey64[:len(vkey64)-1], 1),
		strings.Replace(k0.Vkey, vkey64, vkey64[:10]+"\n"+vkey64[10:], 1),
		strings.Replace(k0.Vkey, vkey64, vkey64[:10]+" "+vkey64[10:], 1),
		strings.Replace(k0.Vkey, vkey64, strings.TrimRight(vkey64, "="), 1),
		strings.Replace(k0.Vkey, "sum.example.com", "other.example.com", 1),
		k0.Name,
		k0.Name + "+" + vhash,
		k0.Name + "+" + vhash + "+",
		"+" + vrest,
		"a b+" + vrest,
		"a\u00a0b+" + vrest,
		withHash("alg2", alg2),
		withHash("short", short),
		withHash("long", long),
		withHash("empty", nil),
		withHash("only-alg", []byte{1}),
		withHash("a b", vdata),
		withHash("off-curve", append([]byte{1}, offCurve...)),
		withHash("identity", append([]byte{1}, identity...)),
		lax,
		strings.Replace(lax, laxB64, laxAlt, 1),
		k0.Skey,
	}
	type vkeyCase struct {
		Vkey string `json:"vkey"`
		Name string `json:"name,omitempty"`
		Hash string `json:"hash,omitempty"`
		Err  string `json:"err,omitempty"`
	}
	var vkeyCases []vkeyCase
	for _, in := range vkeyInputs {
		v, err := note.NewVerifier(in)
		c := vkeyCase{Vkey: in, Err: errString(err)}
		if err == nil {
			c.Name, c.Hash = v.Name(), fmt.Sprintf("%08x", v.KeyHash())
		}
		vkeyCases = append(vkeyCases, c)
	}

	salg2 := append([]byte{2}, sdata[1:]...)
	skeyInputs := []string{
		k0.Skey, k1.Skey, k2.Skey, keys[3].Skey,
		strings.Replace(k0.Skey, "PRIVATE", "private", 1),
		strings.Replace(k0.Skey, "+KEY+", "+KEYS+", 1),
		strings.TrimPrefix(k0.Skey, "PRIVATE+"),
		k0.Vkey,
		strings.Replace(k0.Skey, vhash, "00000000", 1),
		strings.Replace(k0.Skey, vhash, strings.ToUpper(vhash), 1),
		strings.Replace(k0.Skey, skey64, skey64[:len(skey64)-1], 1),
		"PRIVATE+KEY+alg2+" + vhash + "+" + b64(salg2),
		"PRIVATE+KEY+" + k0.Name + "+" + vhash + "+" + b64(sdata[:32]),
		"PRIVATE+KEY+" + k0.Name + "+" + vhash + "+",
		"PRIVATE+KEY+a b+" + vhash + "+" + skey64,
		"PRIVATE+KEY",
		"",
	}
	type skeyCase struct {
		Skey string `json:"skey"`
		Name string `json:"name,omitempty"`
		Hash string `json:"hash,omitempty"`
		// Sig is the base64 signature of "message\n", when the key parses.
		Sig string `json:"sig,omitempty"`
		Err string `json:"err,omitempty"`
	}
	var skeyCases []skeyCase
	for _, in := range skeyInputs {
		s, err := note.NewSigner(in)
		c := skeyCase{Skey: in, Err: errString(err)}
		if err == nil {
			sig, err := s.Sign([]byte("message\n"))
			if err != nil {
				return err
			}
			c.Name, c.Hash, c.Sig = s.Name(), fmt.Sprintf("%08x", s.KeyHash()), b64(sig)
		}
		skeyCases = append(skeyCases, c)
	}
	edPub := make([]byte, 32)
	copy(edPub, vdata[1:])
	ed25519Key, err := note.NewEd25519VerifierKey(k0.Name, edPub)
	if err != nil {
		return err
	}
	if err := writeJSON(dir, "keys.json", map[string]any{
		"generated":            keys,
		"verifier_keys":        vkeyCases,
		"signer_keys":          skeyCases,
		"ed25519_verifier_key": map[string]string{"name": k0.Name, "public_hex": hex.EncodeToString(edPub), "vkey": ed25519Key},
	}); err != nil {
		return err
	}

	// Signature verification edge cases, through Verifier.Verify.
	msg := []byte("message\n")
	good, _ := signer(k0.Skey).Sign(msg)
	nonCanonical := addL(good)
	highBits := append([]byte{}, good...)
	highBits[63] |= 0xe0
	identitySig := append(append([]byte{}, identity...), make([]byte, 32)...)
	type verifyCase struct {
		What string `json:"what"`
		Vkey string `json:"vkey"`
		Msg  string `json:"msg"`
		Sig  string `json:"sig_hex"`
		OK   bool   `json:"ok"`
	}
	var verifyCases []verifyCase
	addVerify := func(what, vkey string, m, sig []byte) {
		verifyCases = append(verifyCases, verifyCase{what, vkey, string(m), hex.EncodeToString(sig), verifier(vkey).Verify(m, sig)})
	}
	addVerify("good", k0.Vkey, msg, good)
	addVerify("other message", k0.Vkey, []byte("massage\n"), good)
	addVerify("other key", k1.Vkey, msg, good)
	addVerify("short", k0.Vkey, msg, good[:63])
	addVerify("long", k0.Vkey, msg, append(append([]byte{}, good...), 0))
	addVerify("empty", k0.Vkey, msg, nil)
	addVerify("s plus group order", k0.Vkey, msg, nonCanonical)
	addVerify("s high bits", k0.Vkey, msg, highBits)
	addVerify("off-curve key", withHash("off-curve", append([]byte{1}, offCurve...)), msg, good)
	addVerify("identity key and signature", withHash("identity", append([]byte{1}, identity...)), msg, identitySig)
	if err := writeJSON(dir, "verify.json", verifyCases); err != nil {
		return err
	}

	// Sign.
	type signCase struct {
		Text       string    `json:"text"`
		Existing   []sigJSON `json:"existing,omitempty"`
		Unverified []sigJSON `json:"existing_unverified,omitempty"`
		Signers    []string  `json:"signers"`
		Msg        string    `json:"msg,omitempty"`
		Err        string    `json:"err,omitempty"`
	}
	var signCases []signCase
	addSign := func(n *note.Note, skeys ...string) []byte {
		var ss []note.Signer
		for _, k := range skeys {
			ss = append(ss, signer(k))
		}
		out, err := note.Sign(n, ss...)
		signCases = append(signCases, signCase{
			Text: n.Text, Existing: sigsJSON(n.Sigs), Unverified: sigsJSON(n.UnverifiedSigs),
			Signers: skeys, Msg: string(out), Err: errString(err),
		})
		return out
	}
	text := "go.sum database tree\n600\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n"
	one := addSign(&note.Note{Text: text}, k0.Skey)
	two := addSign(&note.Note{Text: text}, k0.Skey, k1.Skey)
	addSign(&note.Note{Text: "a\n\nb\n\n"}, k2.Skey)
	addSign(&note.Note{Text: "\n"}, k0.Skey)
	addSign(&note.Note{Text: "ünïcödé — text\n"}, k0.Skey, k1.Skey, k2.Skey)
	addSign(&note.Note{Text: "no newline"}, k0.Skey)
	addSign(&note.Note{Text: ""}, k0.Skey)
	n1, err := note.Open(one, note.VerifierList(verifier(k0.Vkey)))
	if err != nil {
		return err
	}
	addSign(n1, k1.Skey)
	addSign(n1, k0.Skey)
	n2, err := note.Open(two, note.VerifierList(verifier(k1.Vkey)))
	if err != nil {
		return err
	}
	addSign(n2, k2.Skey)
	addSign(n2, k0.Skey)
	bad := *n1
	bad.Sigs = []note.Signature{{Name: n1.Sigs[0].Name, Hash: n1.Sigs[0].Hash ^ 1, Base64: n1.Sigs[0].Base64}}
	addSign(&bad, k1.Skey)
	if err := writeJSON(dir, "sign.json", signCases); err != nil {
		return err
	}

	// Open.
	type openCase struct {
		What       string    `json:"what"`
		Known      []string  `json:"known"`
		Err        string    `json:"err,omitempty"`
		Text       *string   `json:"text,omitempty"`
		Sigs       []sigJSON `json:"sigs,omitempty"`
		Unverified []sigJSON `json:"unverified,omitempty"`
	}
	var openCases []map[string]any
	// openObj opens m with the known keys and returns the case without its message.
	openObj := func(what string, m []byte, known ...string) map[string]any {
		var vs []note.Verifier
		for _, k := range known {
			vs = append(vs, verifier(k))
		}
		n, err := note.Open(m, note.VerifierList(vs...))
		if e, ok := err.(*note.UnverifiedNoteError); ok {
			n = e.Note
		}
		c := openCase{What: what, Known: known, Err: errString(err)}
		if known == nil {
			c.Known = []string{}
		}
		if n != nil {
			c.Text, c.Sigs, c.Unverified = &n.Text, sigsJSON(n.Sigs), sigsJSON(n.UnverifiedSigs)
		}
		raw, _ := json.Marshal(c)
		var obj map[string]any
		json.Unmarshal(raw, &obj)
		return obj
	}
	addOpen := func(what string, m []byte, known ...string) {
		obj := openObj(what, m, known...)
		bytesField(obj, "msg", m)
		openCases = append(openCases, obj)
	}
	// addOpenRepeat is addOpen for the message head + count×line + tail, written that way.
	addOpenRepeat := func(what, head, line string, count int, tail string, known ...string) {
		obj := openObj(what, []byte(head+strings.Repeat(line, count)+tail), known...)
		obj["msg_repeat"] = map[string]any{"head": head, "line": line, "count": count, "tail": tail}
		openCases = append(openCases, obj)
	}
	sigBlock := func(m []byte) (string, string) {
		s := string(m)
		i := strings.LastIndex(s, "\n\n")
		return s[:i+1], s[i+2:]
	}
	t1, l1 := sigBlock(one)
	_, l2 := sigBlock(two)
	line0, _, _ := strings.Cut(l1, "\n")
	line1 := strings.Split(l2, "\n")[1]
	name0, b640, _ := strings.Cut(strings.TrimPrefix(line0, "— "), " ")
	raw0, _ := base64.StdEncoding.DecodeString(b640)
	resig := func(raw []byte) string { return "— " + name0 + " " + b64(raw) }
	flipped := append([]byte{}, raw0...)
	flipped[10] ^= 1

	addOpen("one known signer", one, k0.Vkey)
	addOpen("two signers, both known", two, k0.Vkey, k1.Vkey)
	addOpen("two signers, second known", two, k1.Vkey)
	addOpen("two signers, known listed in other order", two, k1.Vkey, k0.Vkey)
	addOpen("no known signer", two)
	addOpen("other key known", one, k2.Vkey)
	addOpen("same key known twice", one, k0.Vkey, k0.Vkey)
	addOpen("ambiguous key only matters when used", two, k1.Vkey, k2.Vkey, k2.Vkey)
	addOpen("tampered text", []byte(strings.Replace(string(one), "600", "601", 1)), k0.Vkey)
	addOpen("tampered signature", []byte(t1+"\n"+resig(flipped)+"\n"), k0.Vkey)
	addOpen("tampered signature, key unknown", []byte(t1+"\n"+resig(flipped)+"\n"), k1.Vkey)
	addOpen("truncated signature", []byte(t1+"\n"+resig(raw0[:5])+"\n"), k0.Vkey)
	addOpen("signature of 4 bytes", []byte(t1+"\n"+resig(raw0[:4])+"\n"), k0.Vkey)
	addOpen("wrong key hash in signature", []byte(t1+"\n"+resig(append([]byte{raw0[0] ^ 1}, raw0[1:]...))+"\n"), k0.Vkey)
	addOpen("duplicate line", []byte(t1+"\n"+line0+"\n"+line0+"\n"), k0.Vkey)
	addOpen("duplicate unknown line", []byte(t1+"\n"+line0+"\n"+line1+"\n"+line1+"\n"), k0.Vkey)
	addOpen("second bad signature by known key skipped", []byte(t1+"\n"+line0+"\n"+resig(flipped)+"\n"), k0.Vkey)
	addOpen("bad signature first", []byte(t1+"\n"+resig(flipped)+"\n"+line0+"\n"), k0.Vkey)
	addOpenRepeat("100 signature lines", t1+"\n", line0+"\n", 100, "", k0.Vkey)
	addOpenRepeat("101 signature lines", t1+"\n", line0+"\n", 101, "", k0.Vkey)
	addOpenRepeat("101 lines, last malformed", t1+"\n", line0+"\n", 100, "— x\n", k0.Vkey)
	addOpenRepeat("99 identical unknown lines, then a known one", t1+"\n", "— u AAAAAAA=\n", 99, line0+"\n", k0.Vkey)
	addOpen("no blank line", []byte(t1+line0+"\n"), k0.Vkey)
	addOpen("no final newline", []byte(t1+"\n"+line0), k0.Vkey)
	addOpen("trailing blank line", []byte(t1+"\n"+line0+"\n\n"), k0.Vkey)
	addOpen("text only", []byte(t1), k0.Vkey)
	addOpen("empty", []byte(""), k0.Vkey)
	addOpen("blank lines only", []byte("\n\n"), k0.Vkey)
	addOpen("hyphen instead of em dash", []byte(t1+"\n- "+strings.TrimPrefix(line0, "— ")+"\n"), k0.Vkey)
	addOpen("no space after dash", []byte(t1+"\n—"+strings.TrimPrefix(line0, "— ")+"\n"), k0.Vkey)
	addOpen("two spaces after name", []byte(t1+"\n— "+name0+"  "+b640+"\n"), k0.Vkey)
	addOpen("no signature after name", []byte(t1+"\n— "+name0+"\n"), k0.Vkey)
	addOpen("empty signature", []byte(t1+"\n— "+name0+" \n"), k0.Vkey)
	addOpen("signature not base64", []byte(t1+"\n— "+name0+" "+b640[:len(b640)-2]+"*=\n"), k0.Vkey)
	addOpen("signature unpadded", []byte(t1+"\n— "+name0+" "+strings.TrimRight(b640, "=")+"\n"), k0.Vkey)
	laxSig := b640[:len(b640)-2] + string(nextB64(b640[len(b640)-2])) + "="
	addOpen("signature with non-zero unused bits", []byte(t1+"\n— "+name0+" "+laxSig+"\n"), k0.Vkey)
	addOpen("signature base64 with an inner newline", []byte(t1+"\n— "+name0+" "+b640[:20]+"\n"+b640[20:]+"\n"), k0.Vkey)
	addOpen("name with plus", []byte(t1+"\n— a+b "+b640+"\n"), k0.Vkey)
	addOpen("name with no-break space", []byte(t1+"\n— a\u00a0b "+b640+"\n"), k0.Vkey)
	addOpen("empty name", []byte(t1+"\n—  "+b640+"\n"), k0.Vkey)
	addOpen("carriage return", []byte(strings.Replace(string(one), "\n", "\r\n", 1)), k0.Vkey)
	addOpen("tab in text", []byte("a\tb\n\n"+line0+"\n"), k0.Vkey)
	addOpen("NUL in signature line", []byte(t1+"\n"+line0+"\x00\n"), k0.Vkey)
	addOpen("DEL is allowed", []byte("a\x7fb\n\n"+line0+"\n"), k0.Vkey)
	addOpen("invalid UTF-8", []byte("a\xffb\n\n"+line0+"\n"), k0.Vkey)
	addOpen("surrogate in UTF-8", []byte("a\xed\xa0\x80b\n\n"+line0+"\n"), k0.Vkey)
	addOpen("overlong UTF-8", []byte("a\xc0\xafb\n\n"+line0+"\n"), k0.Vkey)
	addOpen("literal U+FFFD", []byte("a\uFFFDb\n\n"+line0+"\n"), k0.Vkey)
	for _, c := range signCases {
		if c.Err == "" {
			addOpen("signed: "+strings.Join(c.Signers, ","), []byte(c.Msg), k0.Vkey, k1.Vkey, k2.Vkey)
		}
	}
	return writeJSON(dir, "open.json", openCases)
}

// nextB64 returns the base64 character after c in the standard alphabet (wrapping within its
// group of four, so only the unused trailing bits change for a final character).
func nextB64(c byte) byte {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
	i := strings.IndexByte(alphabet, c)
	return alphabet[(i&^3)|((i+1)&3)]
}

// addL returns sig with the group order L added to its scalar S (same point, non-canonical S).
func addL(sig []byte) []byte {
	l, _ := new(big.Int).SetString("7237005577332262213973186563042994240857116359379907606001950938285454250989", 10)
	s := make([]byte, 32)
	for i := range 32 {
		s[i] = sig[63-i] // little-endian to big-endian
	}
	v := new(big.Int).Add(new(big.Int).SetBytes(s), l)
	be := v.FillBytes(make([]byte, 32))
	out := append([]byte{}, sig[:32]...)
	for i := range 32 {
		out = append(out, be[31-i])
	}
	return out
}

// onCurve reports whether the 32 bytes decode to an Edwards25519 point (as the y coordinate and
// sign of x): whether x² = (y² − 1) / (d·y² + 1) has a solution mod p.
func onCurve(enc []byte) bool {
	p := new(big.Int).Sub(new(big.Int).Lsh(big.NewInt(1), 255), big.NewInt(19))
	b := make([]byte, 32)
	for i := range 32 {
		b[i] = enc[31-i]
	}
	b[0] &= 0x7f
	y := new(big.Int).Mod(new(big.Int).SetBytes(b), p)
	d := new(big.Int).Mul(big.NewInt(-121665), new(big.Int).ModInverse(big.NewInt(121666), p))
	d.Mod(d, p)
	y2 := new(big.Int).Mul(y, y)
	u := new(big.Int).Sub(y2, big.NewInt(1))
	v := new(big.Int).Add(new(big.Int).Mul(d, y2), big.NewInt(1))
	x2 := new(big.Int).Mul(u, new(big.Int).ModInverse(v.Mod(v, p), p))
	x2.Mod(x2, p)
	if x2.Sign() == 0 {
		return true
	}
	return big.Jacobi(x2, p) == 1
}

// --- tlog ---

// logRecord is the text of record i of the vector log: the go.sum lines of a made-up module.
// The Rust test rebuilds it the same way.
func logRecord(i int) []byte {
	zip := sha256.Sum256([]byte(fmt.Sprintf("zip %d", i)))
	mod := sha256.Sum256([]byte(fmt.Sprintf("mod %d", i)))
	path := fmt.Sprintf("example.com/m%d", i)
	vers := fmt.Sprintf("v1.0.%d", i)
	return []byte(fmt.Sprintf("%s %s h1:%s\n%s %s/go.mod h1:%s\n", path, vers, b64(zip[:]), path, vers, b64(mod[:])))
}

const logSize = 600

type memLog struct{ stored []tlog.Hash }

func (m *memLog) ReadHashes(indexes []int64) ([]tlog.Hash, error) {
	out := make([]tlog.Hash, len(indexes))
	for i, x := range indexes {
		if x < 0 || x >= int64(len(m.stored)) {
			return nil, fmt.Errorf("no hash %d", x)
		}
		out[i] = m.stored[x]
	}
	return out, nil
}

func buildLog(n int) (*memLog, error) {
	m := &memLog{}
	for i := range n {
		hs, err := tlog.StoredHashes(int64(i), logRecord(i), m)
		if err != nil {
			return nil, err
		}
		m.stored = append(m.stored, hs...)
	}
	return m, nil
}

func hashStrings(hs []tlog.Hash) []string {
	out := []string{}
	for _, h := range hs {
		out = append(out, h.String())
	}
	return out
}

func sha256Hex(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

func tlogVectors(dir string) error {
	// hashes.json: record and node hashes, the stored hash layout.
	type recordHash struct {
		Data string `json:"data"`
		Hash string `json:"hash"`
	}
	var recordHashes []recordHash
	for _, d := range []string{"", "a", "hello\n", string(logRecord(0)), strings.Repeat("x", 1000)} {
		recordHashes = append(recordHashes, recordHash{d, tlog.RecordHash([]byte(d)).String()})
	}
	type nodeHash struct {
		Left  string `json:"left"`
		Right string `json:"right"`
		Hash  string `json:"hash"`
	}
	var nodeHashes []nodeHash
	for i := range 3 {
		l := tlog.RecordHash([]byte(fmt.Sprint(i)))
		r := tlog.RecordHash([]byte(fmt.Sprint(i + 1)))
		nodeHashes = append(nodeHashes, nodeHash{l.String(), r.String(), tlog.NodeHash(l, r).String()})
	}
	type index struct {
		Level int   `json:"level"`
		N     int64 `json:"n"`
		Index int64 `json:"index"`
	}
	var indexes []index
	for level := range 6 {
		for n := int64(0); n < 20; n++ {
			indexes = append(indexes, index{level, n, tlog.StoredHashIndex(level, n)})
		}
	}
	for _, ln := range [][2]int64{{0, 1 << 40}, {10, 12345}, {30, 7}, {0, 1<<61 - 1}, {61, 0}} {
		indexes = append(indexes, index{int(ln[0]), ln[1], tlog.StoredHashIndex(int(ln[0]), ln[1])})
	}
	type count struct {
		N     int64 `json:"n"`
		Count int64 `json:"count"`
	}
	var counts []count
	for n := int64(0); n <= 40; n++ {
		counts = append(counts, count{n, tlog.StoredHashCount(n)})
	}
	for _, n := range []int64{255, 256, 257, 600, 1 << 40, 1<<40 + 12345} {
		counts = append(counts, count{n, tlog.StoredHashCount(n)})
	}
	var parseHash []map[string]string
	for _, s := range []string{
		tlog.RecordHash(nil).String(),
		"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAB=",
		"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
		"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
		"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
		"AAAAAAAAAAAAAAAAAAAAAAAAAAAA\nAAAAAAAAAAAAAAAA=",
		"",
	} {
		h, err := tlog.ParseHash(s)
		c := map[string]string{"text": s}
		if err != nil {
			c["err"] = err.Error()
		} else {
			c["hash_hex"] = hex.EncodeToString(h[:])
		}
		parseHash = append(parseHash, c)
	}
	if err := writeJSON(dir, "hashes.json", map[string]any{
		"record_hashes":     recordHashes,
		"node_hashes":       nodeHashes,
		"stored_hash_index": indexes,
		"stored_hash_count": counts,
		"parse_hash":        parseHash,
	}); err != nil {
		return err
	}

	// log.json: the vector log of 600 records.
	m, err := buildLog(logSize)
	if err != nil {
		return err
	}
	var all []byte
	for _, h := range m.stored {
		all = append(all, h[:]...)
	}
	type treeHash struct {
		N    int64  `json:"n"`
		Hash string `json:"hash"`
	}
	var treeHashes []treeHash
	for n := int64(0); n <= logSize; n++ {
		if n > 300 && n%25 != 0 && n < logSize-2 {
			continue
		}
		h, err := tlog.TreeHash(n, m)
		if err != nil {
			return err
		}
		treeHashes = append(treeHashes, treeHash{n, h.String()})
	}
	if err := writeJSON(dir, "log.json", map[string]any{
		"size":                 logSize,
		"record_0":             string(logRecord(0)),
		"record_599":           string(logRecord(599)),
		"stored_hash_count":    len(m.stored),
		"stored_hashes_sha256": sha256Hex(all),
		"stored_hashes_first":  hashStrings(m.stored[:20]),
		"tree_hashes":          treeHashes,
	}); err != nil {
		return err
	}

	// proofs.json: record and tree proofs in the vector log, and checks of altered proofs.
	type proof struct {
		T     int64    `json:"t"`
		N     int64    `json:"n"`
		Proof []string `json:"proof,omitempty"`
		Err   string   `json:"err,omitempty"`
	}
	var recordProofs, treeProofs []proof
	for _, tn := range [][2]int64{
		{1, 0}, {2, 0}, {2, 1}, {3, 2}, {7, 3}, {8, 7}, {9, 8}, {100, 37}, {256, 255}, {257, 256},
		{511, 255}, {600, 0}, {600, 299}, {600, 512}, {600, 599},
		{0, 0}, {5, 5}, {5, -1}, {-1, 0},
	} {
		p, err := tlog.ProveRecord(tn[0], tn[1], m)
		recordProofs = append(recordProofs, proof{tn[0], tn[1], hashStrings(p), errString(err)})
	}
	for _, tn := range [][2]int64{
		{1, 1}, {2, 1}, {3, 2}, {7, 4}, {8, 3}, {100, 64}, {257, 256}, {513, 511}, {600, 1},
		{600, 300}, {600, 512}, {600, 599}, {600, 600},
		{0, 0}, {5, 0}, {5, 6}, {-1, 1},
	} {
		p, err := tlog.ProveTree(tn[0], tn[1], m)
		treeProofs = append(treeProofs, proof{tn[0], tn[1], hashStrings(p), errString(err)})
	}
	type check struct {
		What  string   `json:"what"`
		Kind  string   `json:"kind"`
		T     int64    `json:"t"`
		TH    string   `json:"th"`
		N     int64    `json:"n"`
		H     string   `json:"h"`
		Proof []string `json:"proof"`
		Err   string   `json:"err"`
	}
	var checks []check
	th := func(n int64) tlog.Hash { h, _ := tlog.TreeHash(n, m); return h }
	rh := func(n int64) tlog.Hash { return tlog.RecordHash(logRecord(int(n))) }
	altered := func(p []tlog.Hash, f func([]tlog.Hash) []tlog.Hash) []tlog.Hash {
		return f(append([]tlog.Hash{}, p...))
	}
	flip := func(i int) func([]tlog.Hash) []tlog.Hash {
		return func(p []tlog.Hash) []tlog.Hash { p[i][0] ^= 1; return p }
	}
	drop := func(p []tlog.Hash) []tlog.Hash { return p[:len(p)-1] }
	extra := func(p []tlog.Hash) []tlog.Hash { return append(p, tlog.Hash{}) }
	swap := func(p []tlog.Hash) []tlog.Hash { p[0], p[1] = p[1], p[0]; return p }
	addRecordCheck := func(what string, p []tlog.Hash, t int64, thash tlog.Hash, n int64, h tlog.Hash) {
		err := tlog.CheckRecord(p, t, thash, n, h)
		checks = append(checks, check{what, "record", t, thash.String(), n, h.String(), hashStrings(p), errString(err)})
	}
	addTreeCheck := func(what string, p []tlog.Hash, t int64, thash tlog.Hash, n int64, h tlog.Hash) {
		err := tlog.CheckTree(p, t, thash, n, h)
		checks = append(checks, check{what, "tree", t, thash.String(), n, h.String(), hashStrings(p), errString(err)})
	}
	rp, _ := tlog.ProveRecord(600, 37, m)
	addRecordCheck("valid", rp, 600, th(600), 37, rh(37))
	addRecordCheck("first hash flipped", altered(rp, flip(0)), 600, th(600), 37, rh(37))
	addRecordCheck("last hash flipped", altered(rp, flip(len(rp)-1)), 600, th(600), 37, rh(37))
	addRecordCheck("last hash dropped", altered(rp, drop), 600, th(600), 37, rh(37))
	addRecordCheck("extra hash", altered(rp, extra), 600, th(600), 37, rh(37))
	addRecordCheck("swapped", altered(rp, swap), 600, th(600), 37, rh(37))
	addRecordCheck("other record", rp, 600, th(600), 36, rh(36))
	addRecordCheck("other record hash", rp, 600, th(600), 37, rh(38))
	addRecordCheck("other tree size", rp, 599, th(599), 37, rh(37))
	addRecordCheck("other tree hash", rp, 600, th(599), 37, rh(37))
	addRecordCheck("record out of range", rp, 600, th(600), 600, rh(37))
	addRecordCheck("empty proof, one record", nil, 1, th(1), 0, rh(0))
	addRecordCheck("hash in proof, one record", []tlog.Hash{{}}, 1, th(1), 0, rh(0))
	tp, _ := tlog.ProveTree(600, 300, m)
	addTreeCheck("valid", tp, 600, th(600), 300, th(300))
	addTreeCheck("first hash flipped", altered(tp, flip(0)), 600, th(600), 300, th(300))
	addTreeCheck("last hash flipped", altered(tp, flip(len(tp)-1)), 600, th(600), 300, th(300))
	addTreeCheck("last hash dropped", altered(tp, drop), 600, th(600), 300, th(300))
	addTreeCheck("extra hash", altered(tp, extra), 600, th(600), 300, th(300))
	addTreeCheck("swapped", altered(tp, swap), 600, th(600), 300, th(300))
	addTreeCheck("other old hash", tp, 600, th(600), 300, th(299))
	addTreeCheck("other new hash", tp, 600, th(599), 300, th(300))
	addTreeCheck("other old size", tp, 600, th(600), 301, th(301))
	tp2, _ := tlog.ProveTree(600, 512, m)
	addTreeCheck("valid, power of two", tp2, 600, th(600), 512, th(512))
	addTreeCheck("same size, empty", nil, 600, th(600), 600, th(600))
	addTreeCheck("same size, other hash", nil, 600, th(600), 600, th(599))
	addTreeCheck("same size, extra hash", []tlog.Hash{th(600)}, 600, th(600), 600, th(600))
	addTreeCheck("old larger", nil, 5, th(5), 6, th(6))
	if err := writeJSON(dir, "proofs.json", map[string]any{
		"record_proofs": recordProofs,
		"tree_proofs":   treeProofs,
		"checks":        checks,
	}); err != nil {
		return err
	}

	// tiles.json: paths, tile_for_index, new_tiles, tile data of the vector log.
	type tileJSON struct {
		H    int    `json:"h"`
		L    int    `json:"l"`
		N    int64  `json:"n"`
		W    int    `json:"w"`
		Path string `json:"path"`
	}
	tj := func(t tlog.Tile) tileJSON { return tileJSON{t.H, t.L, t.N, t.W, t.Path()} }
	var paths []tileJSON
	for _, t := range []tlog.Tile{
		{H: 8, L: 0, N: 0, W: 256}, {H: 8, L: 0, N: 0, W: 1}, {H: 8, L: 0, N: 2, W: 88},
		{H: 8, L: 1, N: 0, W: 2}, {H: 8, L: -1, N: 0, W: 256}, {H: 8, L: -1, N: 2, W: 88},
		{H: 8, L: 2, N: 999, W: 256}, {H: 8, L: 0, N: 1000, W: 256}, {H: 8, L: 0, N: 1001, W: 5},
		{H: 3, L: 4, N: 1234067, W: 1}, {H: 3, L: 4, N: 1234067, W: 8},
		{H: 1, L: 63, N: 9223372036854775807, W: 1}, {H: 30, L: 0, N: 0, W: 1 << 30},
		{H: 30, L: 0, N: 0, W: 1<<30 - 1}, {H: 2, L: 5, N: 1000000, W: 3},
	} {
		paths = append(paths, tj(t))
	}
	var parses []map[string]any
	for _, p := range []string{
		"tile/8/0/000", "tile/8/0/001.p/10", "tile/8/data/002.p/88", "tile/8/1/x001/234",
		"tile/3/4/x001/x234/067.p/1", "tile/30/0/000.p/1073741823", "tile/1/0/000.p/1",
		"tile/8/63/000", "tile/8/64/000", "tile/8/0/x009/x223/x372/x036/x854/x775/807",
		"tile/8/0/x009/x223/x372/x036/x854/x775/808", "tile/8/0/x999/x999/x999/x999/x999/x999/x999/999",
		"tile/8/0/000.p/256", "tile/8/0/000.p/0", "tile/8/0/000.p/-1", "tile/8/0/000.p/010",
		"tile/8/0/000.p/", "tile/8/0/000.p", "tile/8/0.p/5", "tile/8/data.p/5",
		"tile/0/0/000", "tile/31/0/000", "tile/-1/0/000", "tile/08/0/000", "tile/+8/0/000",
		"tile/8/-1/000", "tile/8/00/000", "tile/8/+0/000", "tile/8/DATA/000",
		"tile/8/0/0", "tile/8/0/00", "tile/8/0/0000", "tile/8/0/1000", "tile/8/0/x000/001",
		"tile/8/0/001/234", "tile/8/0/x001/x234", "tile/8/0/x01/234", "tile/8/0/xx001/234",
		"tile/8/0/-01", "tile/8/0/+01", "tile/8/0/000/", "/tile/8/0/000", "tiles/8/0/000",
		"tile/8/0", "tile", "", "tile/8/0/000.p/5/6", "tile/8/0/x001.p/5",
	} {
		t, err := tlog.ParseTilePath(p)
		c := map[string]any{"path": p}
		if err != nil {
			c["err"] = err.Error()
		} else {
			c["tile"] = tj(t)
		}
		parses = append(parses, c)
	}
	type forIndex struct {
		H     int    `json:"h"`
		Index int64  `json:"index"`
		Path  string `json:"path"`
	}
	var forIndexes []forIndex
	for _, h := range []int{1, 2, 8} {
		for x := int64(0); x <= 40; x++ {
			forIndexes = append(forIndexes, forIndex{h, x, tlog.TileForIndex(h, x).Path()})
		}
		for _, x := range []int64{1000, 12345, 1 << 40, tlog.StoredHashIndex(16, 3), tlog.StoredHashIndex(9, 1)} {
			forIndexes = append(forIndexes, forIndex{h, x, tlog.TileForIndex(h, x).Path()})
		}
	}
	type newTiles struct {
		H     int      `json:"h"`
		Old   int64    `json:"old"`
		New   int64    `json:"new"`
		Tiles []string `json:"tiles"`
	}
	var newTileCases []newTiles
	for _, c := range [][3]int64{
		{8, 0, 0}, {8, 0, 1}, {8, 0, 255}, {8, 0, 256}, {8, 0, 257}, {8, 0, 600}, {8, 256, 600},
		{8, 599, 600}, {8, 600, 600}, {8, 65535, 65537}, {8, 0, 1 << 16}, {2, 0, 17}, {2, 5, 37},
		{1, 0, 9}, {3, 100, 200},
	} {
		var ps []string
		for _, t := range tlog.NewTiles(int(c[0]), c[1], c[2]) {
			ps = append(ps, t.Path())
		}
		if ps == nil {
			ps = []string{}
		}
		newTileCases = append(newTileCases, newTiles{int(c[0]), c[1], c[2], ps})
	}
	type tileData struct {
		Path   string `json:"path"`
		Len    int    `json:"len"`
		SHA256 string `json:"sha256"`
	}
	var tileDatas []tileData
	addTileData := func(h int, size int64) error {
		for _, t := range tlog.NewTiles(h, 0, size) {
			d, err := tlog.ReadTileData(t, m)
			if err != nil {
				return err
			}
			tileDatas = append(tileDatas, tileData{t.Path(), len(d), sha256Hex(d)})
			// The data tile beside each level-0 tile, as sumdb's server makes it.
			if t.L == 0 {
				dt := t
				dt.L = -1
				var data []byte
				for i := range dt.W {
					id := dt.N<<uint(dt.H) + int64(i)
					msg, err := tlog.FormatRecord(id, logRecord(int(id)))
					if err != nil {
						return err
					}
					_, msg, _ = bytes.Cut(msg, []byte{'\n'})
					data = append(data, msg...)
				}
				tileDatas = append(tileDatas, tileData{dt.Path(), len(data), sha256Hex(data)})
			}
		}
		return nil
	}
	if err := addTileData(8, logSize); err != nil {
		return err
	}
	if err := addTileData(2, 37); err != nil {
		return err
	}
	type fromTile struct {
		Path  string `json:"path"`
		Index int64  `json:"index"`
		Hash  string `json:"hash,omitempty"`
		Err   string `json:"err,omitempty"`
	}
	var fromTiles []fromTile
	for _, c := range []struct {
		t tlog.Tile
		x int64
	}{
		{tlog.Tile{H: 8, L: 0, N: 0, W: 256}, tlog.StoredHashIndex(0, 5)},
		{tlog.Tile{H: 8, L: 0, N: 0, W: 256}, tlog.StoredHashIndex(3, 7)},
		{tlog.Tile{H: 8, L: 0, N: 0, W: 256}, tlog.StoredHashIndex(7, 1)},
		{tlog.Tile{H: 8, L: 0, N: 1, W: 256}, tlog.StoredHashIndex(7, 2)},
		{tlog.Tile{H: 8, L: 0, N: 2, W: 88}, tlog.StoredHashIndex(0, 599)},
		{tlog.Tile{H: 8, L: 0, N: 2, W: 88}, tlog.StoredHashIndex(3, 71)},
		{tlog.Tile{H: 8, L: 1, N: 0, W: 2}, tlog.StoredHashIndex(8, 1)},
		{tlog.Tile{H: 8, L: 1, N: 0, W: 2}, tlog.StoredHashIndex(9, 0)},
		{tlog.Tile{H: 8, L: 0, N: 0, W: 256}, tlog.StoredHashIndex(8, 0)},
		{tlog.Tile{H: 8, L: 0, N: 2, W: 88}, tlog.StoredHashIndex(0, 600)},
		{tlog.Tile{H: 8, L: 0, N: 1, W: 256}, tlog.StoredHashIndex(0, 5)},
		{tlog.Tile{H: 2, L: 0, N: 1, W: 4}, tlog.StoredHashIndex(1, 2)},
		{tlog.Tile{H: 2, L: 1, N: 0, W: 4}, tlog.StoredHashIndex(3, 0)},
	} {
		d, err := tlog.ReadTileData(c.t, m)
		if err != nil {
			d = make([]byte, c.t.W*tlog.HashSize)
		}
		h, err := tlog.HashFromTile(c.t, d, c.x)
		f := fromTile{Path: c.t.Path(), Index: c.x, Err: errString(err)}
		if err == nil {
			f.Hash = h.String()
		}
		fromTiles = append(fromTiles, f)
	}
	if err := writeJSON(dir, "tiles.json", map[string]any{
		"paths":          paths,
		"parse":          parses,
		"tile_for_index": forIndexes,
		"new_tiles":      newTileCases,
		"tile_data":      tileDatas,
		"hash_from_tile": fromTiles,
	}); err != nil {
		return err
	}

	// records.json: tree heads, records, a lookup response.
	var formatTrees []map[string]any
	for _, n := range []int64{0, 1, 600, 1<<63 - 1} {
		t := tlog.Tree{N: n, Hash: th(min(n, logSize))}
		formatTrees = append(formatTrees, map[string]any{"n": n, "hash": t.Hash.String(), "text": string(tlog.FormatTree(t))})
	}
	h600 := th(600).String()
	var parseTrees []map[string]any
	for _, text := range []string{
		"go.sum database tree\n600\n" + h600 + "\n",
		"go.sum database tree\n600\n" + h600 + "\nextra line\n",
		"go.sum database tree\n600\n" + h600 + "\nno final newline",
		"go.sum database tree\n600\n" + h600 + "\n\xff\n",
		"go.sum database tree\n600\n" + h600,
		"go.sum database tree\n600\n" + h600 + "\r\n",
		"go.sum database tree\n0600\n" + h600 + "\n",
		"go.sum database tree\n+600\n" + h600 + "\n",
		"go.sum database tree\n-1\n" + h600 + "\n",
		"go.sum database tree\n-0\n" + h600 + "\n",
		"go.sum database tree\n 600\n" + h600 + "\n",
		"go.sum database tree\n9223372036854775807\n" + h600 + "\n",
		"go.sum database tree\n9223372036854775808\n" + h600 + "\n",
		"go.sum database tree\n600\n" + h600[:43] + "\n",
		"go.sum database tree\n600\nAAAA\n",
		"go.sum database tree v2\n600\n" + h600 + "\n",
		"Go.sum database tree\n600\n" + h600 + "\n",
		"",
		// Too long: written as text_head plus text_x_count "x" characters.
		"go.sum database tree\n600\n" + h600 + "\n" + strings.Repeat("x", 1e6),
		"go.sum database tree\n600\n" + h600 + "\n" + strings.Repeat("x", 1e6-70),
	} {
		t, err := tlog.ParseTree([]byte(text))
		c := map[string]any{}
		if head, xs, ok := strings.Cut(text, "\n"+h600+"\n"); ok && strings.Trim(xs, "x") == "" && xs != "" {
			c["text_head"] = head + "\n" + h600 + "\n"
			c["text_x_count"] = len(xs)
		} else {
			bytesField(c, "text", []byte(text))
		}
		if err != nil {
			c["err"] = err.Error()
		} else {
			c["n"], c["hash"] = t.N, t.Hash.String()
		}
		parseTrees = append(parseTrees, c)
	}
	var formatRecords []map[string]any
	for _, c := range []struct {
		id   int64
		text string
	}{
		{0, string(logRecord(0))}, {123, "a\n"}, {-5, "a\n"}, {7, "\n"}, {7, "\na\n"},
		{7, "a"}, {7, ""}, {7, "a\n\nb\n"}, {7, "a\tb\n"}, {7, "a\rb\n"}, {7, "a\xffb\n"},
		{7, "a\x7fb\n"}, {7, "ü\n"},
	} {
		msg, err := tlog.FormatRecord(c.id, []byte(c.text))
		r := map[string]any{"id": c.id}
		bytesField(r, "text", []byte(c.text))
		if err != nil {
			r["err"] = err.Error()
		} else {
			r["msg"] = string(msg)
		}
		formatRecords = append(formatRecords, r)
	}
	var parseRecords []map[string]any
	for _, msg := range []string{
		"5\na\n\n", "5\na\nb\n\nrest", "+5\na\n\n", "-5\na\n\n", "005\na\n\n", "5\n\n\n",
		"\na\n\n", "5 \na\n\n", "5\na\n", "5", "5\n\n", "x\na\n\n", "99999999999999999999\na\n\n",
		"5\na\tb\n\n", "5\na\xffb\n\n", "5\na\n\n\n", "",
	} {
		id, text, rest, err := tlog.ParseRecord([]byte(msg))
		r := map[string]any{}
		bytesField(r, "msg", []byte(msg))
		if err != nil {
			r["err"] = err.Error()
		} else {
			r["id"], r["text"], r["rest"] = id, string(text), string(rest)
		}
		parseRecords = append(parseRecords, r)
	}
	// A lookup response for record 123, with the tree head of the whole log signed by key 0.
	skey, vkey, err := note.GenerateKey(bytes.NewReader(seed(0)), "sum.example.com")
	if err != nil {
		return err
	}
	s, err := note.NewSigner(skey)
	if err != nil {
		return err
	}
	signed, err := note.Sign(&note.Note{Text: string(tlog.FormatTree(tlog.Tree{N: logSize, Hash: th(logSize)}))}, s)
	if err != nil {
		return err
	}
	lookupMsg, err := tlog.FormatRecord(123, logRecord(123))
	if err != nil {
		return err
	}
	lookupMsg = append(lookupMsg, signed...)
	return writeJSON(dir, "records.json", map[string]any{
		"format_tree":   formatTrees,
		"parse_tree":    parseTrees,
		"format_record": formatRecords,
		"parse_record":  parseRecords,
		"lookup": map[string]any{
			"vkey": vkey, "id": 123, "module": "example.com/m123", "version": "v1.0.123",
			"response": string(lookupMsg), "signed_tree": string(signed),
		},
	})
}
