// Command checker verifies provmark ledger proofs, checkpoints and tiles with the Go
// reference implementation of transparency logs, golang.org/x/mod/sumdb/{note,tlog}.
//
// It reads one JSON document (see crates/ledger/tests/it/golang.rs) from the file named
// by its first argument, checks every item, and prints a summary. Any failure exits 1.
// Items under "must_fail" must be rejected.
//
// With -evidence it checks one evidence bundle written by `provmark trace --evidence`
// (see cli/tests/pipeline.rs): the signed checkpoint under the verifier key given as the
// next argument (else the bundle's own `vkey`), that the record bytes hash to `leaf_hash`,
// that the proof is for the checkpoint's tree size, and the inclusion proof.
package main

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

type inclusion struct {
	Index      int64    `json:"index"`
	Record     string   `json:"record"`
	LeafHash   string   `json:"leaf_hash"`
	Proof      []string `json:"proof"`
	Checkpoint string   `json:"checkpoint"`
}

type consistency struct {
	Old   string   `json:"old_checkpoint"`
	New   string   `json:"new_checkpoint"`
	Proof []string `json:"proof"`
}

type input struct {
	Vkey        string        `json:"vkey"`
	Note        string        `json:"note"`
	Inclusion   []inclusion   `json:"inclusion"`
	Consistency []consistency `json:"consistency"`
	TileDir     string        `json:"tile_dir"`
	MustFail    struct {
		Inclusion   []inclusion   `json:"inclusion"`
		Consistency []consistency `json:"consistency"`
		Notes       []string      `json:"notes"`
	} `json:"must_fail"`
}

type checkpoint struct {
	origin string
	size   int64
	root   tlog.Hash
}

func openCheckpoint(v note.Verifiers, text string) (checkpoint, error) {
	n, err := note.Open([]byte(text), v)
	if err != nil {
		return checkpoint{}, err
	}
	lines := strings.Split(n.Text, "\n")
	if len(lines) < 4 {
		return checkpoint{}, fmt.Errorf("short checkpoint")
	}
	size, err := strconv.ParseInt(lines[1], 10, 64)
	if err != nil {
		return checkpoint{}, err
	}
	root, err := decodeHash(lines[2])
	if err != nil {
		return checkpoint{}, err
	}
	return checkpoint{origin: lines[0], size: size, root: root}, nil
}

func decodeHash(s string) (tlog.Hash, error) {
	var h tlog.Hash
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil || len(b) != tlog.HashSize {
		return h, fmt.Errorf("bad hash %q", s)
	}
	copy(h[:], b)
	return h, nil
}

func decodeHashes(ss []string) ([]tlog.Hash, error) {
	var out []tlog.Hash
	for _, s := range ss {
		h, err := decodeHash(s)
		if err != nil {
			return nil, err
		}
		out = append(out, h)
	}
	return out, nil
}

func checkInclusion(v note.Verifiers, in inclusion) error {
	cp, err := openCheckpoint(v, in.Checkpoint)
	if err != nil {
		return err
	}
	record, err := base64.StdEncoding.DecodeString(in.Record)
	if err != nil {
		return err
	}
	leaf := tlog.RecordHash(record)
	if leaf.String() != in.LeafHash {
		return fmt.Errorf("leaf hash %s != %s", leaf, in.LeafHash)
	}
	proof, err := decodeHashes(in.Proof)
	if err != nil {
		return err
	}
	return tlog.CheckRecord(tlog.RecordProof(proof), cp.size, cp.root, in.Index, leaf)
}

func checkConsistency(v note.Verifiers, c consistency) error {
	oldCp, err := openCheckpoint(v, c.Old)
	if err != nil {
		return err
	}
	newCp, err := openCheckpoint(v, c.New)
	if err != nil {
		return err
	}
	proof, err := decodeHashes(c.Proof)
	if err != nil {
		return err
	}
	return tlog.CheckTree(tlog.TreeProof(proof), newCp.size, newCp.root, oldCp.size, oldCp.root)
}

// tileReader reads C2SP tlog-tiles paths (tile/<L>/<N>[.p/<W>]) from a directory.
type tileReader struct{ dir string }

func (r tileReader) Height() int { return 8 }

func indexPath(n int64) string {
	s := fmt.Sprintf("%03d", n%1000)
	for n /= 1000; n > 0; n /= 1000 {
		s = fmt.Sprintf("x%03d/%s", n%1000, s)
	}
	return s
}

func tilePath(t tlog.Tile) string {
	level := strconv.Itoa(t.L)
	if t.L == -1 {
		level = "entries"
	}
	p := "tile/" + level + "/" + indexPath(t.N)
	if t.W != 1<<t.H {
		p += ".p/" + strconv.Itoa(t.W)
	}
	return p
}

func (r tileReader) ReadTiles(tiles []tlog.Tile) ([][]byte, error) {
	var out [][]byte
	for _, t := range tiles {
		b, err := os.ReadFile(filepath.Join(r.dir, filepath.FromSlash(tilePath(t))))
		if err != nil {
			return nil, err
		}
		out = append(out, b)
	}
	return out, nil
}

func (r tileReader) SaveTiles(tiles []tlog.Tile, data [][]byte) {}

func checkTiles(v note.Verifiers, dir string, proofs []inclusion) (int, error) {
	text, err := os.ReadFile(filepath.Join(dir, "checkpoint"))
	if err != nil {
		return 0, err
	}
	cp, err := openCheckpoint(v, string(text))
	if err != nil {
		return 0, err
	}
	tree := tlog.Tree{N: cp.size, Hash: cp.root}
	hr := tlog.TileHashReader(tree, tileReader{dir})
	root, err := tlog.TreeHash(cp.size, hr)
	if err != nil {
		return 0, err
	}
	if root != cp.root {
		return 0, fmt.Errorf("tile tree hash %s != checkpoint root %s", root, cp.root)
	}
	// Every record in the entry bundles hashes to the level-0 tile hash.
	n := 0
	for start := int64(0); start < cp.size; start += 256 {
		w := cp.size - start
		if w > 256 {
			w = 256
		}
		bundle, err := tileReader{dir}.ReadTiles([]tlog.Tile{{H: 8, L: -1, N: start / 256, W: int(w)}})
		if err != nil {
			return 0, err
		}
		data := bundle[0]
		indexes := make([]int64, w)
		for k := range indexes {
			indexes[k] = start + int64(k)
		}
		stored := make([]int64, w)
		for k := range stored {
			stored[k] = tlog.StoredHashIndex(0, start+int64(k))
		}
		hashes, err := hr.ReadHashes(stored)
		if err != nil {
			return 0, err
		}
		for k := int64(0); k < w; k++ {
			if len(data) < 2 {
				return 0, fmt.Errorf("entry bundle %d truncated", start/256)
			}
			l := int(data[0])<<8 | int(data[1])
			if len(data) < 2+l {
				return 0, fmt.Errorf("entry bundle %d truncated", start/256)
			}
			if tlog.RecordHash(data[2:2+l]) != hashes[k] {
				return 0, fmt.Errorf("entry %d does not match its leaf hash tile", start+k)
			}
			data = data[2+l:]
			n++
		}
		if len(data) != 0 {
			return 0, fmt.Errorf("entry bundle %d has trailing bytes", start/256)
		}
	}
	// Proofs computed by Go from the tiles equal the ones the ledger served.
	for _, in := range proofs {
		cpIn, err := openCheckpoint(v, in.Checkpoint)
		if err != nil || cpIn.size != cp.size {
			continue
		}
		p, err := tlog.ProveRecord(cp.size, in.Index, hr)
		if err != nil {
			return 0, err
		}
		if len(p) != len(in.Proof) {
			return 0, fmt.Errorf("proof length for %d differs", in.Index)
		}
		for k := range p {
			if base64.StdEncoding.EncodeToString(p[k][:]) != in.Proof[k] {
				return 0, fmt.Errorf("proof for %d differs from Go's at %d", in.Index, k)
			}
		}
	}
	return n, nil
}

// evidence is the part of a `provmark trace --evidence` bundle the log proof needs.
type evidence struct {
	Index      int64    `json:"index"`
	TreeSize   int64    `json:"tree_size"`
	Record     string   `json:"record"`
	LeafHash   string   `json:"leaf_hash"`
	Proof      []string `json:"proof"`
	Checkpoint string   `json:"checkpoint"`
	Vkey       string   `json:"vkey"`
}

func checkEvidence(path, vkey string) error {
	raw, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	var ev evidence
	if err := json.Unmarshal(raw, &ev); err != nil {
		return err
	}
	if vkey == "" {
		vkey = ev.Vkey
	}
	verifier, err := note.NewVerifier(vkey)
	if err != nil {
		return fmt.Errorf("vkey: %v", err)
	}
	v := note.VerifierList(verifier)
	cp, err := openCheckpoint(v, ev.Checkpoint)
	if err != nil {
		return fmt.Errorf("checkpoint: %v", err)
	}
	if cp.size != ev.TreeSize {
		return fmt.Errorf("proof for tree size %d, checkpoint of size %d", ev.TreeSize, cp.size)
	}
	if err := checkInclusion(v, inclusion{
		Index: ev.Index, Record: ev.Record, LeafHash: ev.LeafHash, Proof: ev.Proof,
		Checkpoint: ev.Checkpoint,
	}); err != nil {
		return err
	}
	fmt.Printf("go-tlog evidence ok: record %d in %s at tree size %d\n", ev.Index, cp.origin, cp.size)
	return nil
}

func main() {
	if len(os.Args) >= 3 && len(os.Args) <= 4 && os.Args[1] == "-evidence" {
		vkey := ""
		if len(os.Args) == 4 {
			vkey = os.Args[3]
		}
		if err := checkEvidence(os.Args[2], vkey); err != nil {
			fail(fmt.Errorf("evidence: %v", err))
		}
		return
	}
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: checker INPUT.json | checker -evidence EVIDENCE.json [VKEY]")
		os.Exit(2)
	}
	raw, err := os.ReadFile(os.Args[1])
	if err != nil {
		fail(err)
	}
	var in input
	if err := json.Unmarshal(raw, &in); err != nil {
		fail(err)
	}
	verifier, err := note.NewVerifier(in.Vkey)
	if err != nil {
		fail(fmt.Errorf("vkey: %v", err))
	}
	v := note.VerifierList(verifier)
	if in.Note != "" {
		if _, err := note.Open([]byte(in.Note), v); err != nil {
			fail(fmt.Errorf("note: %v", err))
		}
	}
	for _, p := range in.Inclusion {
		if err := checkInclusion(v, p); err != nil {
			fail(fmt.Errorf("inclusion of %d: %v", p.Index, err))
		}
	}
	for _, c := range in.Consistency {
		if err := checkConsistency(v, c); err != nil {
			fail(fmt.Errorf("consistency: %v", err))
		}
	}
	entries := 0
	if in.TileDir != "" {
		if entries, err = checkTiles(v, in.TileDir, in.Inclusion); err != nil {
			fail(fmt.Errorf("tiles: %v", err))
		}
	}
	for i, p := range in.MustFail.Inclusion {
		if checkInclusion(v, p) == nil {
			fail(fmt.Errorf("bad inclusion proof %d was accepted", i))
		}
	}
	for i, c := range in.MustFail.Consistency {
		if checkConsistency(v, c) == nil {
			fail(fmt.Errorf("bad consistency proof %d was accepted", i))
		}
	}
	for i, n := range in.MustFail.Notes {
		if _, err := note.Open([]byte(n), v); err == nil {
			fail(fmt.Errorf("bad note %d was accepted", i))
		}
	}
	fmt.Printf("go-tlog ok: %d inclusion, %d consistency, %d tile entries, %d rejected\n",
		len(in.Inclusion), len(in.Consistency), entries,
		len(in.MustFail.Inclusion)+len(in.MustFail.Consistency)+len(in.MustFail.Notes))
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "go-tlog FAIL:", err)
	os.Exit(1)
}
