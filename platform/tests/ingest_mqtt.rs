//! MQTT ingest end to end: readings published like `meter-agent` does (JSON form, QoS 1,
//! `sunmesh/v1/readings/<device-id>`), stored exactly once, and the platform's verdicts
//! published on `sunmesh/v1/acks/<device-id>`.
//!
//! - On the embedded broker (rumqttd) with SQLite: always runs.
//! - Two instances on one PostgreSQL and one Mosquitto: runs when `TEST_DATABASE_URL` and
//!   `TEST_MQTT_URL` are set; prints why and passes otherwise.

#[path = "support/readings.rs"]
mod chains;
#[allow(unused_macros, unused_imports)]
mod common;

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use chains::{Chain, FIVE_MIN};
use common::{new_device, TestDb};
use platform::broker::EmbeddedBroker;
use platform::ingest::mqtt::{mqtt_options, MqttIngest, MqttIngestConfig};
use platform::ingest::{IngestConfig, IngestService};
use platform::store::readings::ReadingPage;
use platform::store::Store;
use reading::SignedReading;
use rumqttc::{AsyncClient, Event, Packet, QoS};

/// How long a test waits for the readings to arrive before it reports what is missing.
const PATIENCE: Duration = Duration::from_secs(180);
/// Most readings a test publisher leaves unanswered.
const WINDOW: usize = 400;

fn unique(prefix: &str) -> String {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    format!("{prefix}-{}-{nanos}", std::process::id())
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap())
        .unwrap()
}

/// `per_device` readings of each device `seeds`, in publishing order (interleaved by device),
/// ending three hours ago with no production (so they are valid at any time of day).
fn readings(seeds: &[u8], per_device: usize) -> Vec<SignedReading> {
    let start = now_ms() - 3 * 3_600_000 - FIVE_MIN * i64::try_from(per_device).unwrap();
    let chains: Vec<Vec<SignedReading>> = seeds
        .iter()
        .map(|&s| {
            let mut c = Chain::new(s, start);
            (0..per_device).map(|_| c.next(FIVE_MIN, 0)).collect()
        })
        .collect();
    (0..per_device)
        .flat_map(|i| chains.iter().map(move |c| c[i].clone()))
        .collect()
}

fn register(store: &Store, seeds: &[u8]) {
    for &s in seeds {
        store
            .register_device_creating_owner(&new_device(s, "alice"), now_ms() - 86_400_000)
            .unwrap();
    }
}

/// Publishes like the agent and collects the platform's acks: (device, sequence) → status.
async fn publish_all(
    url: &str,
    topic_root: &str,
    readings: &[SignedReading],
) -> (AsyncClient, Arc<Mutex<HashMap<(String, u64), String>>>) {
    let options = mqtt_options(url, &unique("test-agent")).unwrap();
    let (client, mut eventloop) = AsyncClient::new(options, 1_024);
    let acks = Arc::new(Mutex::new(HashMap::new()));
    let seen = acks.clone();
    tokio::spawn(async move {
        loop {
            match eventloop.poll().await {
                Ok(Event::Incoming(Packet::Publish(p))) => {
                    let v: serde_json::Value = serde_json::from_slice(&p.payload).unwrap();
                    let device = v["device_id"].as_str().unwrap().to_owned();
                    for r in v["results"].as_array().unwrap() {
                        let seq = r["sequence"].as_u64().unwrap();
                        let status = r["status"].as_str().unwrap().to_owned();
                        seen.lock().unwrap().insert((device.clone(), seq), status);
                    }
                }
                Ok(_) => {}
                Err(_) => tokio::time::sleep(Duration::from_millis(200)).await,
            }
        }
    });
    client
        .subscribe(format!("{topic_root}/acks/+"), QoS::AtLeastOnce)
        .await
        .unwrap();
    // Give the subscription a moment to be in place before the first verdicts come back.
    tokio::time::sleep(Duration::from_millis(300)).await;
    // Like agents, which wait for verdicts before shipping more, keep at most WINDOW readings
    // unanswered: a broker bounds what it queues per subscriber (Mosquitto's
    // max_queued_messages is 1,000 by default) and drops the excess of a faster burst.
    let started = Instant::now();
    for (sent, r) in readings.iter().enumerate() {
        while sent >= acks.lock().unwrap().len() + WINDOW && started.elapsed() < PATIENCE {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        let topic = format!("{topic_root}/readings/{}", r.reading.device_id);
        client
            .publish(topic, QoS::AtLeastOnce, false, r.to_json())
            .await
            .unwrap();
    }
    (client, acks)
}

/// Waits until the store holds `expected` readings (or patience runs out) and returns the count.
async fn wait_for(store: &Store, expected: i64) -> i64 {
    let started = Instant::now();
    loop {
        let stored: i64 = store.reading_counts().unwrap().values().sum();
        if stored >= expected || started.elapsed() > PATIENCE {
            // A little longer, so that a double-count would show.
            tokio::time::sleep(Duration::from_millis(500)).await;
            return store.reading_counts().unwrap().values().sum();
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn wait_for_acks(acks: &Mutex<HashMap<(String, u64), String>>, expected: usize) -> usize {
    let started = Instant::now();
    loop {
        let n = acks.lock().unwrap().len();
        if n >= expected || started.elapsed() > PATIENCE {
            return n;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn assert_each_stored_once(store: &Store, seeds: &[u8], per_device: usize) {
    let counts = store.reading_counts().unwrap();
    let n = i64::try_from(seeds.len() * per_device).unwrap();
    assert_eq!(counts.get("accepted").copied(), Some(n), "{counts:?}");
    assert_eq!(counts.values().sum::<i64>(), n, "{counts:?}");
    for &s in seeds {
        let id = reading::SigningKey::from_seed(&[s; 32])
            .unwrap()
            .device_id();
        let stored = store
            .device_readings(
                &id,
                ReadingPage {
                    after_sequence: 0,
                    limit: 100_000,
                },
            )
            .unwrap();
        let seqs: Vec<i64> = stored.iter().map(|r| r.reading.sequence).collect();
        let want: Vec<i64> = (1..=i64::try_from(per_device).unwrap()).collect();
        assert_eq!(seqs, want, "device {id}");
        assert!(store.reading_gaps(&id).unwrap().is_empty(), "device {id}");
        assert!(store.rejected_log(&id).unwrap().is_empty(), "device {id}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn embedded_broker_ingests_and_acknowledges_after_commit() {
    let broker = EmbeddedBroker::start("127.0.0.1:0".parse().unwrap()).unwrap();
    let db = TestDb::sqlite();
    let store = db.store();
    let seeds: Vec<u8> = (1..=4).collect();
    register(&store, &seeds);
    let svc = IngestService::new(store.clone(), IngestConfig::default()).unwrap();
    let ingest = MqttIngest::spawn(
        svc,
        MqttIngestConfig::new(&broker.url(), &unique("sunmesh")),
    )
    .unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;

    let all = readings(&seeds, 50);
    // Each reading twice, as an agent resending after a lost ack would.
    let mut twice = all.clone();
    twice.extend(all.iter().cloned());
    let (_client, acks) = publish_all(&broker.url(), "sunmesh/v1", &twice).await;
    let stored = wait_for(&store, 200).await;
    assert_eq!(stored, 200);
    assert_each_stored_once(&store, &seeds, 50);
    assert_eq!(wait_for_acks(&acks, 200).await, 200);
    let statuses: HashSet<String> = acks.lock().unwrap().values().cloned().collect();
    assert!(
        statuses.iter().all(|s| s == "accepted" || s == "duplicate"),
        "{statuses:?}"
    );
    ingest.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn start_embeds_a_broker_when_no_url_is_given() {
    let db = TestDb::sqlite();
    let store = db.store();
    register(&store, &[7]);
    let svc = IngestService::new(store.clone(), IngestConfig::default()).unwrap();
    let runtime = platform::ingest::start(svc, None, "127.0.0.1:0".parse().unwrap(), None).unwrap();
    let broker = runtime.broker.as_ref().expect("an embedded broker");
    assert_eq!(runtime.mqtt_url, broker.url());
    tokio::time::sleep(Duration::from_millis(300)).await;
    let (_client, acks) = publish_all(&runtime.mqtt_url, "sunmesh/v1", &readings(&[7], 3)).await;
    assert_eq!(wait_for(&store, 3).await, 3);
    assert_eq!(wait_for_acks(&acks, 3).await, 3);
    runtime.mqtt.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_instances_on_one_postgres_and_mosquitto_store_each_reading_once() {
    let Ok(mqtt_url) = std::env::var("TEST_MQTT_URL") else {
        println!("skipping the two-instance MQTT test: TEST_MQTT_URL is not set");
        return;
    };
    let Some(db) = TestDb::postgres("two_instances_on_one_postgres_and_mosquitto") else {
        return;
    };
    let seeds: Vec<u8> = (1..=50).collect();
    let per_device = 200;
    // Two stores = two connection pools, as two processes would have.
    let (store_a, store_b) = (db.store(), db.store());
    register(&store_a, &seeds);
    // Private topics and group, so other tests on the same Mosquitto cannot interfere.
    let root = unique("test").replace('-', "_") + "/sunmesh/v1";
    let group = unique("group");
    let instance = |store: Store, name: &str| {
        let svc = IngestService::new(store, IngestConfig::default()).unwrap();
        let config = MqttIngestConfig {
            topic_root: root.clone(),
            share_group: group.clone(),
            ..MqttIngestConfig::new(&mqtt_url, &unique(name))
        };
        MqttIngest::spawn(svc, config).unwrap()
    };
    let a = instance(store_a.clone(), "sunmesh-a");
    let b = instance(store_b, "sunmesh-b");
    tokio::time::sleep(Duration::from_millis(500)).await;

    let all = readings(&seeds, per_device);
    assert_eq!(all.len(), 10_000);
    let (_client, acks) = publish_all(&mqtt_url, &root, &all).await;
    let stored = wait_for(&store_a, 10_000).await;
    assert_eq!(stored, 10_000);
    assert_each_stored_once(&store_a, &seeds, per_device);
    assert_eq!(wait_for_acks(&acks, 10_000).await, 10_000);
    assert!(acks.lock().unwrap().values().all(|s| s == "accepted"));
    // Both instances took part.
    let (da, db_) = (
        a.stats.decided.load(std::sync::atomic::Ordering::Relaxed),
        b.stats.decided.load(std::sync::atomic::Ordering::Relaxed),
    );
    println!("instance a decided {da}, instance b decided {db_}");
    assert!(da > 0 && db_ > 0, "a {da}, b {db_}");
    assert_eq!(da + db_, 10_000);
    a.stop();
    b.stop();
}
