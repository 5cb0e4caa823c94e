use proptest::prelude::*;

use super::*;

/// The RFC 6962 test leaves used by transparency-dev/merkle (`testonly/constants.go`) and
/// the Certificate Transparency test suites.
fn rfc6962_leaves() -> Vec<Vec<u8>> {
    [
        "",
        "00",
        "10",
        "2021",
        "3031",
        "40414243",
        "5051525354555657",
        "606162636465666768696a6b6c6d6e6f",
    ]
    .iter()
    .map(|h| hex::decode(h).unwrap())
    .collect()
}

/// Roots of the first 1..=8 leaves (transparency-dev/merkle `testonly` `RootHashes`).
const RFC6962_ROOTS: [&str; 8] = [
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
];

// --- A slow, obviously correct reference: RFC 9162 §2.1 written recursively. ---

fn ref_mth(leaves: &[Hash]) -> Hash {
    match leaves.len() {
        0 => EMPTY_ROOT,
        1 => leaves[0],
        n => {
            let k = split_point(n as u64) as usize;
            node_hash(&ref_mth(&leaves[..k]), &ref_mth(&leaves[k..]))
        }
    }
}

fn ref_path(m: usize, leaves: &[Hash]) -> Vec<Hash> {
    let n = leaves.len();
    if n <= 1 {
        return Vec::new();
    }
    let k = split_point(n as u64) as usize;
    if m < k {
        let mut p = ref_path(m, &leaves[..k]);
        p.push(ref_mth(&leaves[k..]));
        p
    } else {
        let mut p = ref_path(m - k, &leaves[k..]);
        p.push(ref_mth(&leaves[..k]));
        p
    }
}

fn ref_subproof(m: usize, leaves: &[Hash], complete: bool) -> Vec<Hash> {
    let n = leaves.len();
    if m == n {
        return if complete { Vec::new() } else { vec![ref_mth(leaves)] };
    }
    let k = split_point(n as u64) as usize;
    if m <= k {
        let mut p = ref_subproof(m, &leaves[..k], complete);
        p.push(ref_mth(&leaves[k..]));
        p
    } else {
        let mut p = ref_subproof(m - k, &leaves[k..], false);
        p.push(ref_mth(&leaves[..k]));
        p
    }
}

/// The fast path: stored hashes from the frontier, proofs from range decompositions.
struct Stored {
    hashes: Vec<Hash>,
}

impl Stored {
    fn build(leaves: &[Hash]) -> Self {
        let mut f = Frontier::new();
        let mut hashes = Vec::new();
        for l in leaves {
            assert_eq!(hashes.len() as u64, leaf_stored_index(f.size()));
            f.push(*l, |h| hashes.push(h));
        }
        assert_eq!(hashes.len() as u64, stored_hash_count(leaves.len() as u64));
        Self { hashes }
    }
    fn range(&self, (s, e): (u64, u64)) -> Hash {
        let hs: Vec<Hash> = range_subtrees(s, e)
            .into_iter()
            .map(|id| self.hashes[id.stored_index() as usize])
            .collect();
        fold_range(&hs).unwrap()
    }
}

fn leaves(n: usize) -> Vec<Hash> {
    (0..n).map(|i| leaf_hash(&(i as u64).to_be_bytes())).collect()
}

#[test]
fn empty_tree_root_is_sha256_of_nothing() {
    assert_eq!(Frontier::new().root(), EMPTY_ROOT);
    let digest: Hash = Sha256::digest(b"").into();
    assert_eq!(EMPTY_ROOT, digest);
}

#[test]
fn rfc6962_roots_known_answer() {
    let data = rfc6962_leaves();
    let mut f = Frontier::new();
    for (i, d) in data.iter().enumerate() {
        f.push(leaf_hash(d), |_| {});
        assert_eq!(hex::encode(f.root()), RFC6962_ROOTS[i], "size {}", i + 1);
    }
}

#[test]
fn rfc6962_inclusion_known_answer() {
    // transparency-dev/merkle testonly: inclusion proof of leaf 0 in the tree of size 8.
    let data = rfc6962_leaves();
    let hs: Vec<Hash> = data.iter().map(|d| leaf_hash(d)).collect();
    let st = Stored::build(&hs);
    let proof: Vec<String> =
        inclusion_ranges(0, 8).into_iter().map(|r| hex::encode(st.range(r))).collect();
    assert_eq!(
        proof,
        [
            "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
        ]
    );
}

#[test]
fn stored_index_matches_go_numbering() {
    // Values of golang.org/x/mod/sumdb/tlog.StoredHashIndex(level, n).
    assert_eq!(NodeId::new(0, 0).stored_index(), 0);
    assert_eq!(NodeId::new(0, 1).stored_index(), 1);
    assert_eq!(NodeId::new(1, 0).stored_index(), 2);
    assert_eq!(NodeId::new(0, 2).stored_index(), 3);
    assert_eq!(NodeId::new(0, 3).stored_index(), 4);
    assert_eq!(NodeId::new(1, 1).stored_index(), 5);
    assert_eq!(NodeId::new(2, 0).stored_index(), 6);
    assert_eq!(stored_hash_count(1_000_000), 2 * 1_000_000 - 1_000_000u64.count_ones() as u64);
}

#[test]
fn every_proof_matches_the_reference_for_small_trees() {
    for n in 1..=40usize {
        let hs = leaves(n);
        let st = Stored::build(&hs);
        let root = ref_mth(&hs);
        assert_eq!(st.range((0, n as u64)), root);
        for m in 0..n {
            let fast: Vec<Hash> =
                inclusion_ranges(m as u64, n as u64).into_iter().map(|r| st.range(r)).collect();
            assert_eq!(fast, ref_path(m, &hs), "inclusion {m} of {n}");
            let proof = InclusionProof { index: m as u64, tree_size: n as u64, hashes: fast };
            proof.verify(&hs[m], &root).unwrap();
            // Wrong leaf, wrong index and wrong root all fail.
            assert!(proof.verify(&leaf_hash(b"other"), &root).is_err());
            assert!(proof.verify(&hs[m], &leaf_hash(b"root")).is_err());
            if n > 1 {
                let moved = InclusionProof { index: ((m + 1) % n) as u64, ..proof.clone() };
                assert!(moved.verify(&hs[m], &root).is_err());
            }
        }
        for m in 1..=n {
            let fast: Vec<Hash> =
                consistency_ranges(m as u64, n as u64).into_iter().map(|r| st.range(r)).collect();
            let reference = if m == n { Vec::new() } else { ref_subproof(m, &hs, true) };
            assert_eq!(fast, reference, "consistency {m} -> {n}");
            let old_root = ref_mth(&hs[..m]);
            let proof = ConsistencyProof { old_size: m as u64, new_size: n as u64, hashes: fast };
            proof.verify(&old_root, &root).unwrap();
            if m < n {
                assert!(proof.verify(&leaf_hash(b"x"), &root).is_err());
                assert!(proof.verify(&old_root, &leaf_hash(b"x")).is_err());
            }
        }
    }
}

#[test]
fn frontier_round_trips_through_its_subtrees() {
    let hs = leaves(37);
    let st = Stored::build(&hs);
    let ids = root_subtrees(37);
    let sub: Vec<Hash> = ids.iter().map(|id| st.hashes[id.stored_index() as usize]).collect();
    let mut f = Frontier::from_subtrees(37, &sub).unwrap();
    assert_eq!(f.root(), ref_mth(&hs));
    let mut more = hs.clone();
    more.push(leaf_hash(b"next"));
    f.push(more[37], |_| {});
    assert_eq!(f.root(), ref_mth(&more));
    assert!(Frontier::from_subtrees(39, &sub).is_err());
}

#[test]
fn malformed_proofs_are_rejected_without_panicking() {
    let p = InclusionProof { index: 5, tree_size: 3, hashes: vec![] };
    assert_eq!(p.verify(&EMPTY_ROOT, &EMPTY_ROOT), Err(ProofError::OutOfRange));
    let p = InclusionProof { index: 0, tree_size: u64::MAX, hashes: vec![EMPTY_ROOT; 3] };
    assert!(p.verify(&EMPTY_ROOT, &EMPTY_ROOT).is_err());
    let c = ConsistencyProof { old_size: 9, new_size: 3, hashes: vec![] };
    assert_eq!(c.verify(&EMPTY_ROOT, &EMPTY_ROOT), Err(ProofError::OutOfRange));
    let c = ConsistencyProof { old_size: 3, new_size: u64::MAX, hashes: vec![EMPTY_ROOT; 70] };
    assert!(c.verify(&EMPTY_ROOT, &EMPTY_ROOT).is_err());
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn every_inclusion_and_consistency_proof_verifies(n in 1usize..600, a in any::<u64>(), b in any::<u64>()) {
        let hs = leaves(n);
        let st = Stored::build(&hs);
        let root = st.range((0, n as u64));
        prop_assert_eq!(root, ref_mth(&hs));
        let m = (a % n as u64) as usize;
        let hashes: Vec<Hash> = inclusion_ranges(m as u64, n as u64).into_iter().map(|r| st.range(r)).collect();
        prop_assert_eq!(&hashes, &ref_path(m, &hs));
        let proof = InclusionProof { index: m as u64, tree_size: n as u64, hashes };
        prop_assert!(proof.verify(&hs[m], &root).is_ok());
        let old = 1 + (b % n as u64);
        let hashes: Vec<Hash> = consistency_ranges(old, n as u64).into_iter().map(|r| st.range(r)).collect();
        let old_root = st.range((0, old));
        let proof = ConsistencyProof { old_size: old, new_size: n as u64, hashes };
        prop_assert!(proof.verify(&old_root, &root).is_ok());
    }
}
