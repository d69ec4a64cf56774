//! The offline log verifier against real settlement leaves: it accepts the honest export and
//! rejects a changed, removed or reordered leaf, a bad signature and a rewritten history.

mod common;

use common::*;
use settlement::allocation::settle_slot;
use settlement::merkle::{
    leaf_hash, verify_inclusion, verify_log_export, Checkpoint, LogSigner, Tree,
};
use settlement::report::{attribute_rewards, to_csv, to_json, CSV_HEADER};
use settlement::rewards::{settle_epoch_rewards, EpochCalendar, PoolSchedule};
use settlement::SettlementError;

const ORIGIN: &str = "sunmesh.test/log";

fn signer() -> LogSigner {
    LogSigner::from_seed(ORIGIN, &[42u8; 32]).expect("signer")
}

/// Leaves of three settled slots and one reward epoch, in log order.
fn leaves() -> Vec<Vec<u8>> {
    let mut leaves = Vec::new();
    let mut grams = Vec::new();
    for (i, export) in [1_000u64, 600, 0].into_iter().enumerate() {
        let mut inputs = inputs(
            vec![trade(1, 1, 2, 1_000, 200_000)],
            vec![meter(1, export, 0), meter(2, 0, 900), meter(3, 777, 0)],
            300_000,
        );
        inputs.slot_start_ms += i as i64 * SLOT_LEN;
        let run = settle_slot(&inputs, &config(), 1, None).expect("settle");
        grams.extend(run.mints.iter().map(|m| (m.account, m.grams)));
        leaves.extend(run.log_leaves);
    }
    let rewards = settle_epoch_rewards(
        &EpochCalendar::weekly(0),
        &PoolSchedule::Constant {
            per_epoch: 1_000_000,
        },
        2_811,
        &grams,
    );
    leaves.extend(rewards.log_leaves);
    leaves
}

fn checkpoint_text(leaves: &[Vec<u8>]) -> String {
    let tree = Tree::from_leaf_data(leaves);
    let checkpoint = Checkpoint {
        origin: ORIGIN.into(),
        size: tree.size(),
        root: tree.root(tree.size()).expect("root"),
    };
    signer().sign(&checkpoint).to_text()
}

#[test]
fn an_honest_export_verifies_with_an_earlier_checkpoint() {
    let leaves = leaves();
    // Slots: 2 + 2 + 1 mints and 3 run records; the epoch: 2 reward mints.
    assert_eq!(leaves.len(), 10);
    let earlier = checkpoint_text(&leaves[..4]);
    let latest = checkpoint_text(&leaves);
    let summary = verify_log_export(&leaves, &latest, &signer().verifier(), Some(&earlier))
        .expect("verifies");
    assert_eq!(summary.size, leaves.len() as u64);
    assert_eq!(summary.consistent_with, Some(4));
    // Every leaf has an inclusion proof against the signed root.
    let tree = Tree::from_leaf_data(&leaves);
    for (i, leaf) in leaves.iter().enumerate() {
        let proof = tree.inclusion_proof(i as u64, summary.size).expect("proof");
        verify_inclusion(
            i as u64,
            summary.size,
            &leaf_hash(leaf),
            &proof,
            &summary.root,
        )
        .expect("inclusion");
    }
}

#[test]
fn a_changed_removed_or_reordered_leaf_is_rejected() {
    let leaves = leaves();
    let latest = checkpoint_text(&leaves);
    let key = signer().verifier();

    // Changed: still a valid record (another zone name), but not the signed one.
    let mut changed = leaves.clone();
    let text = String::from_utf8(changed[1].clone()).expect("utf8");
    changed[1] = text
        .replace("\"zone\":\"TEST\"", "\"zone\":\"TESU\"")
        .into_bytes();
    assert_ne!(changed[1], leaves[1]);
    assert!(matches!(
        verify_log_export(&changed, &latest, &key, None),
        Err(SettlementError::CheckpointRootMismatch { .. })
    ));
    // Changed into an invalid record: the grams no longer follow from the export.
    let mut forged = leaves.clone();
    let text = String::from_utf8(forged[0].clone()).expect("utf8");
    forged[0] = text
        .replace("\"grams\":500,", "\"grams\":5000,")
        .into_bytes();
    assert_ne!(forged[0], leaves[0]);
    assert!(matches!(
        verify_log_export(&forged, &latest, &key, None),
        Err(SettlementError::BadLeaf { index: 0, .. })
    ));
    // Removed.
    let mut removed = leaves.clone();
    removed.remove(3);
    assert!(matches!(
        verify_log_export(&removed, &latest, &key, None),
        Err(SettlementError::SizeMismatch { .. })
    ));
    // Reordered.
    let mut reordered = leaves.clone();
    reordered.swap(0, 1);
    assert!(matches!(
        verify_log_export(&reordered, &latest, &key, None),
        Err(SettlementError::CheckpointRootMismatch { .. })
    ));
}

#[test]
fn bad_signatures_and_rewritten_history_are_rejected() {
    let leaves = leaves();
    let latest = checkpoint_text(&leaves);
    let key = signer().verifier();

    let other_key = LogSigner::from_seed(ORIGIN, &[43u8; 32]).expect("signer");
    assert_eq!(
        verify_log_export(&leaves, &latest, &other_key.verifier(), None),
        Err(SettlementError::BadSignature)
    );
    // Flip one character of the signature's base64.
    let sig_at = latest.rfind(' ').expect("signature line") + 10;
    let mut tampered = latest.clone().into_bytes();
    tampered[sig_at] = if tampered[sig_at] == b'A' { b'B' } else { b'A' };
    let tampered = String::from_utf8(tampered).expect("utf8");
    assert_eq!(
        verify_log_export(&leaves, &tampered, &key, None),
        Err(SettlementError::BadSignature)
    );
    // An earlier checkpoint of a different history (first leaf dropped), properly signed.
    let forked = checkpoint_text(&leaves[1..5]);
    assert_eq!(
        verify_log_export(&leaves, &latest, &key, Some(&forked)),
        Err(SettlementError::Inconsistent { size: 4 })
    );
    // An "earlier" checkpoint larger than the log.
    let mut longer = leaves.clone();
    longer.push(leaves[0].clone());
    assert!(matches!(
        verify_log_export(&leaves, &latest, &key, Some(&checkpoint_text(&longer))),
        Err(SettlementError::SizeDecreased { .. })
    ));
}

#[test]
fn report_rows_render_as_csv_and_json_and_take_their_reward_share() {
    let mut rows = Vec::new();
    for export in [1_000u64, 600, 0] {
        let inputs = inputs(
            vec![trade(1, 1, 2, 1_000, 200_000)],
            vec![meter(1, export, 0), meter(2, 0, 900)],
            300_000,
        );
        rows.extend(
            settle_slot(&inputs, &config(), 1, None)
                .expect("settle")
                .report_rows,
        );
    }
    attribute_rewards(&mut rows, 1_001);
    // Carbon 500, 300, 0 g: 1001 × 5/8 = 625.625 → 626 (largest remainder), 375.375 → 375.
    let units: Vec<u128> = rows.iter().map(|r| r.reward_units).collect();
    assert_eq!(units, vec![626, 375, 0]);
    let csv = to_csv(&rows);
    let lines: Vec<&str> = csv.split("\r\n").filter(|l| !l.is_empty()).collect();
    assert_eq!(lines.len(), 4);
    assert_eq!(lines[0], CSV_HEADER);
    let columns = CSV_HEADER.split(',').count();
    assert!(lines[1..].iter().all(|l| l.split(',').count() == columns));
    assert!(lines[2]
        .starts_with("TEST,1699999200000,900000,1,sunmesh-settlement/1,1,1000,600,900,600,500,"));
    let json: serde_json::Value = serde_json::from_str(&to_json(&rows)).expect("json");
    assert_eq!(json[1]["delivered_wh"], 600);
    assert_eq!(json[1]["imbalance_amount_micro"], 150_000); // 400 + 100 Wh short
    assert_eq!(json[0]["reward_units"], 626);
    assert_eq!(json[0]["leaf_hashes"].as_array().map(Vec::len), Some(2));
}
