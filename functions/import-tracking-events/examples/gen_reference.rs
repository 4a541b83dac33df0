//! Why this exists: benchmarks and large-file tests need carrier files of any size in the
//! "reference" layout, and they must be byte-identical from run to run (same args → same
//! sha256) so figures are comparable. Checking 1 GB fixtures into git is not an option.
//!
//! ```text
//! cargo run --release --example gen_reference -- --bytes 200MB [--records N] [--seed S] [--out FILE|-]
//! ```
//!
//! Rows come in per-package runs (label created → pickup → hub scans → out for delivery →
//! delivered / attempted / service point / exception / returned), in UTC time order, all in
//! 2026; each row shows local time with its scan location's offset (origin's if no location).
//! Generation stops before the record that would take the file past `--bytes` (so the file is
//! never larger than asked), or after `--records` data rows, whichever comes first.
//! Sizes take B, KB/MB/GB/TB (1000-based, also K/M/G/T) and KiB/MiB/GiB/TiB (1024-based).

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::PathBuf;

use clap::Parser;

const HEADER: &str = "TrackingNumber,EventCode,EventDescription,EventDate,EventTime,UtcOffset,City,StateProvince,PostalCode,CountryCode,SignedBy,Latitude,Longitude,EstimatedDelivery,ServiceCode,Weight\n";

#[derive(Parser, Debug)]
#[command(about = "Deterministic generator of reference-layout carrier tracking CSV files")]
struct Args {
    /// Stop before the file would exceed this size (e.g. 200MB, 1GB, 512MiB).
    #[arg(long, value_parser = parse_size)]
    bytes: Option<u64>,
    /// Stop after this many data records (header not counted).
    #[arg(long)]
    records: Option<u64>,
    /// PRNG seed; the same arguments always produce the same bytes.
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// Output file, or `-` for stdout.
    #[arg(long, default_value = "-")]
    out: String,
}

fn parse_size(s: &str) -> Result<u64, String> {
    let t = s.trim();
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let n: f64 = num
        .parse()
        .map_err(|_| format!("invalid size {s:?}: expected e.g. 200MB, 1GB, 512MiB"))?;
    let mult: u64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kb" => 1_000,
        "m" | "mb" => 1_000_000,
        "g" | "gb" => 1_000_000_000,
        "t" | "tb" => 1_000_000_000_000,
        "kib" => 1 << 10,
        "mib" => 1 << 20,
        "gib" => 1 << 30,
        "tib" => 1 << 40,
        other => return Err(format!("invalid size unit {other:?} in {s:?}")),
    };
    Ok((n * mult as f64).round() as u64)
}

/// splitmix64: tiny, fast, and good enough for test data.
struct Rng(u64);

impl Rng {
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    /// Uniform-enough integer in `0..n` (n > 0).
    fn below(&mut self, n: u64) -> u64 {
        ((self.next_u64() >> 32) * n) >> 32
    }
    fn range(&mut self, lo: u64, hi_inclusive: u64) -> u64 {
        lo + self.below(hi_inclusive - lo + 1)
    }
    fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        items[self.below(items.len() as u64) as usize]
    }
    /// True with probability `pct` percent.
    fn chance(&mut self, pct: u64) -> bool {
        self.below(100) < pct
    }
}

struct City {
    name: &'static str,
    state: &'static str,
    zip: &'static str,
    lat: &'static str,
    lon: &'static str,
    offset: &'static str,
}

const fn city(
    name: &'static str,
    state: &'static str,
    zip: &'static str,
    lat: &'static str,
    lon: &'static str,
    offset: &'static str,
) -> City {
    City {
        name,
        state,
        zip,
        lat,
        lon,
        offset,
    }
}

const CITIES: &[City] = &[
    city("Austin", "TX", "78701", "30.2672", "-97.7431", "-06:00"),
    city("Dallas", "TX", "75201", "32.7767", "-96.7970", "-06:00"),
    city("Houston", "TX", "77002", "29.7604", "-95.3698", "-06:00"),
    city("Chicago", "IL", "60601", "41.8781", "-87.6298", "-06:00"),
    city("Memphis", "TN", "38103", "35.1495", "-90.0490", "-06:00"),
    city(
        "Kansas City",
        "MO",
        "64105",
        "39.0997",
        "-94.5786",
        "-06:00",
    ),
    city(
        "Minneapolis",
        "MN",
        "55401",
        "44.9778",
        "-93.2650",
        "-06:00",
    ),
    city("New York", "NY", "10001", "40.7506", "-73.9972", "-05:00"),
    city("Atlanta", "GA", "30303", "33.7490", "-84.3880", "-05:00"),
    city("Louisville", "KY", "40202", "38.2527", "-85.7585", "-05:00"),
    city("Miami", "FL", "33130", "25.7617", "-80.1918", "-05:00"),
    city("Boston", "MA", "02108", "42.3601", "-71.0589", "-05:00"),
    city(
        "Philadelphia",
        "PA",
        "19107",
        "39.9526",
        "-75.1652",
        "-05:00",
    ),
    city("Charlotte", "NC", "28202", "35.2271", "-80.8431", "-05:00"),
    city("Columbus", "OH", "43215", "39.9612", "-82.9988", "-05:00"),
    city("Denver", "CO", "80202", "39.7392", "-104.9903", "-07:00"),
    city("Phoenix", "AZ", "85004", "33.4484", "-112.0740", "-07:00"),
    city(
        "Salt Lake City",
        "UT",
        "84111",
        "40.7608",
        "-111.8910",
        "-07:00",
    ),
    city(
        "Albuquerque",
        "NM",
        "87102",
        "35.0844",
        "-106.6504",
        "-07:00",
    ),
    city(
        "Los Angeles",
        "CA",
        "90012",
        "34.0522",
        "-118.2437",
        "-08:00",
    ),
    city(
        "San Francisco",
        "CA",
        "94103",
        "37.7749",
        "-122.4194",
        "-08:00",
    ),
    city("Seattle", "WA", "98101", "47.6062", "-122.3321", "-08:00"),
    city("Portland", "OR", "97204", "45.5152", "-122.6784", "-08:00"),
    city("Las Vegas", "NV", "89101", "36.1699", "-115.1398", "-08:00"),
];

/// Sort hubs (indexes into CITIES) that parcels pass through.
const HUBS: &[usize] = &[1, 3, 4, 5, 9, 15, 16, 19];

const MI: &[&str] = &[
    "Shipment information received",
    "Label created, shipper has not yet tendered package",
    "Order processed: ready for pickup",
];
const PU: &[&str] = &["Picked up", "Package picked up by carrier", "Pickup scan"];
const AR: &[&str] = &[
    "Arrived at facility",
    "Arrived at sort facility",
    "Arrival scan, hub",
];
const DP: &[&str] = &[
    "Departed facility",
    "Departed from facility, on the way",
    "Departure scan",
];
const IT: &[&str] = &[
    "In transit",
    "In transit to next facility",
    "On the way, running on schedule",
];
const OD: &[&str] = &[
    "Out for delivery",
    "Out for delivery, expected today",
    "Loaded on delivery vehicle",
];
const AD: &[&str] = &[
    "Delivery attempted, no one available",
    "Attempted delivery, business closed",
    "Delivery attempted, access to \"gated community\" denied",
];
const DL: &[&str] = &[
    "Delivered",
    "Delivered, front door",
    "Delivered, handed to resident",
    "Delivered, left at \"back porch\"",
    "Delivered to mailroom",
];
const SP: &[&str] = &[
    "Delivered to service point",
    "Available for pickup at access point, 5 days",
    "Held at \"Main St\" pickup location",
];
const EX: &[&str] = &[
    "Exception: weather delay",
    "Exception, address incomplete",
    "Damaged in transit, \"repackaged\" by carrier",
    "Delayed: mechanical failure",
];
const RS: &[&str] = &[
    "Returned to sender",
    "Return to sender, refused by recipient",
];
const CD: &[&str] = &["Cleared customs", "Customs clearance completed, released"];

const SIGNERS: &[&str] = &[
    "J SMITH",
    "M GARCIA",
    "A JOHNSON",
    "L NGUYEN",
    "R BROWN",
    "K PATEL",
    "D WILLIAMS",
    "S LEE",
    "FRONT DESK",
    "MAILROOM",
];
const SERVICES: &[&str] = &["GND", "EXP", "2DA"];

/// Days before the first of each month in 2026 (not a leap year).
const MONTH_START: [u32; 13] = [0, 31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334, 365];

/// One row, before formatting.
struct Event {
    code: &'static str,
    desc: &'static str,
    /// Minutes since 2026-01-01T00:00Z.
    at: u32,
    /// Index into CITIES; `None` for rows without a scan location.
    place: Option<usize>,
    signed_by: &'static str,
}

struct Package {
    tracking: u64,
    /// Index into CITIES; rows without a scan location use its UTC offset.
    origin: usize,
    service: &'static str,
    weight_tenths: u64,
    /// Day of year (0-based) of the estimated delivery, if the carrier gives one.
    eta_day: Option<u32>,
    events: Vec<Event>,
}

fn build_package(rng: &mut Rng, tracking: u64, events: &mut Vec<Event>) -> Package {
    events.clear();
    let origin = rng.below(CITIES.len() as u64) as usize;
    let dest = rng.below(CITIES.len() as u64) as usize;
    // Start (UTC) on 2 January .. mid-December so every local date stays inside 2026.
    let mut at = (rng.range(1, 345) * 1440 + rng.range(13 * 60, 23 * 60)) as u32;
    let service = rng.pick(SERVICES);
    let transit_days: u32 = match service {
        "EXP" => 1,
        "2DA" => 2,
        _ => rng.range(2, 5) as u32,
    };
    let eta_day = rng.chance(70).then_some(at / 1440 + transit_days);

    let mut push = |events: &mut Vec<Event>,
                    rng: &mut Rng,
                    code: &'static str,
                    list: &'static [&'static str],
                    place: Option<usize>,
                    step_minutes: (u64, u64)| {
        at += rng.range(step_minutes.0, step_minutes.1) as u32;
        events.push(Event {
            code,
            desc: rng.pick(list),
            at,
            place,
            signed_by: "",
        });
    };

    // Label created: usually no scan location yet.
    let mi_place = if rng.chance(25) { Some(origin) } else { None };
    push(events, rng, "MI", MI, mi_place, (0, 0));
    push(events, rng, "PU", PU, Some(origin), (60, 600));
    let hops = rng.range(0, 2);
    for _ in 0..hops {
        let hub = rng.pick(HUBS);
        push(events, rng, "AR", AR, Some(hub), (120, 720));
        if rng.chance(3) {
            push(events, rng, "CD", CD, Some(hub), (30, 240));
        }
        if rng.chance(4) {
            push(events, rng, "EX", EX, Some(hub), (30, 360));
        }
        push(events, rng, "DP", DP, Some(hub), (60, 360));
        if rng.chance(50) {
            push(events, rng, "IT", IT, None, (60, 480));
        }
    }
    push(events, rng, "AR", AR, Some(dest), (120, 720));
    push(events, rng, "OD", OD, Some(dest), (60, 300));
    let outcome = rng.below(100);
    if outcome < 8 {
        push(events, rng, "AD", AD, Some(dest), (60, 300));
        push(events, rng, "OD", OD, Some(dest), (900, 1200));
    }
    if outcome < 85 {
        push(events, rng, "DL", DL, Some(dest), (30, 300));
        if rng.chance(85) {
            let e = events.last_mut().expect("just pushed");
            e.signed_by = rng.pick(SIGNERS);
        }
    } else if outcome < 92 {
        push(events, rng, "SP", SP, Some(dest), (30, 300));
    } else if outcome < 97 {
        push(events, rng, "EX", EX, Some(dest), (30, 300));
    } else {
        push(events, rng, "AD", AD, Some(dest), (30, 300));
        push(events, rng, "RS", RS, Some(dest), (1440, 2880));
    }

    Package {
        tracking,
        origin,
        service,
        weight_tenths: rng.range(1, 700),
        eta_day,
        events: std::mem::take(events),
    }
}

/// Minutes west of UTC for a `-HH:MM` offset (all table offsets are negative).
fn offset_minutes(offset: &str) -> u32 {
    let b = offset.as_bytes();
    let d = |i: usize| u32::from(b[i] - b'0');
    (d(1) * 10 + d(2)) * 60 + d(4) * 10 + d(5)
}

fn push_2(buf: &mut Vec<u8>, v: u32) {
    buf.push(b'0' + (v / 10) as u8);
    buf.push(b'0' + (v % 10) as u8);
}

/// `2026-MM-DD` for a 0-based day of the year.
fn push_date(buf: &mut Vec<u8>, day_of_year: u32) {
    let day = day_of_year.min(364);
    let month = MONTH_START.iter().rposition(|&s| s <= day).unwrap_or(0);
    buf.extend_from_slice(b"2026-");
    push_2(buf, month as u32 + 1);
    buf.push(b'-');
    push_2(buf, day - MONTH_START[month] + 1);
}

fn push_u64(buf: &mut Vec<u8>, mut v: u64) {
    let mut tmp = [0u8; 20];
    let mut i = tmp.len();
    loop {
        i -= 1;
        tmp[i] = b'0' + (v % 10) as u8;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    buf.extend_from_slice(&tmp[i..]);
}

/// Decimal, left-padded with zeros to `width` digits.
fn push_padded(buf: &mut Vec<u8>, mut v: u64, width: usize) {
    let mut tmp = [b'0'; 20];
    let mut i = tmp.len();
    while v > 0 {
        i -= 1;
        tmp[i] = b'0' + (v % 10) as u8;
        v /= 10;
    }
    let start = (tmp.len() - width).min(i);
    buf.extend_from_slice(&tmp[start..]);
}

/// CSV field: quoted if it contains a comma, quote or line break; quotes doubled.
fn push_field(buf: &mut Vec<u8>, s: &str) {
    if s.bytes().any(|b| matches!(b, b',' | b'"' | b'\n' | b'\r')) {
        buf.push(b'"');
        for b in s.bytes() {
            if b == b'"' {
                buf.push(b'"');
            }
            buf.push(b);
        }
        buf.push(b'"');
    } else {
        buf.extend_from_slice(s.as_bytes());
    }
}

fn format_row(buf: &mut Vec<u8>, pkg: &Package, ev: &Event, second: u32) {
    buf.extend_from_slice(b"1RC");
    push_padded(buf, pkg.tracking, 15);
    buf.push(b',');
    buf.extend_from_slice(ev.code.as_bytes());
    buf.push(b',');
    push_field(buf, ev.desc);
    buf.push(b',');
    // Rows without a scan location still carry the origin's offset and the country.
    let c = &CITIES[ev.place.unwrap_or(pkg.origin)];
    let local = ev.at - offset_minutes(c.offset);
    push_date(buf, local / 1440);
    buf.push(b',');
    let minute_of_day = local % 1440;
    push_2(buf, minute_of_day / 60);
    buf.push(b':');
    push_2(buf, minute_of_day % 60);
    buf.push(b':');
    push_2(buf, second);
    buf.push(b',');
    buf.extend_from_slice(c.offset.as_bytes());
    buf.push(b',');
    if ev.place.is_some() {
        buf.extend_from_slice(c.name.as_bytes());
        buf.push(b',');
        buf.extend_from_slice(c.state.as_bytes());
        buf.push(b',');
        buf.extend_from_slice(c.zip.as_bytes());
        buf.push(b',');
    } else {
        buf.extend_from_slice(b",,,");
    }
    buf.extend_from_slice(b"US,");
    buf.extend_from_slice(ev.signed_by.as_bytes());
    buf.push(b',');
    if ev.place.is_some() {
        buf.extend_from_slice(c.lat.as_bytes());
        buf.push(b',');
        buf.extend_from_slice(c.lon.as_bytes());
        buf.push(b',');
    } else {
        buf.extend_from_slice(b",,");
    }
    if let (Some(day), false) = (pkg.eta_day, matches!(ev.code, "DL" | "SP" | "RS")) {
        push_date(buf, day);
    }
    buf.push(b',');
    buf.extend_from_slice(pkg.service.as_bytes());
    buf.push(b',');
    push_u64(buf, pkg.weight_tenths / 10);
    buf.push(b'.');
    push_u64(buf, pkg.weight_tenths % 10);
    buf.push(b'\n');
}

fn main() -> io::Result<()> {
    let args = Args::parse();
    if args.bytes.is_none() && args.records.is_none() {
        eprintln!("gen_reference: give --bytes SIZE and/or --records N");
        std::process::exit(2);
    }
    let max_bytes = args.bytes.unwrap_or(u64::MAX);
    let max_records = args.records.unwrap_or(u64::MAX);

    let sink: Box<dyn Write> = if args.out == "-" {
        Box::new(io::stdout().lock())
    } else {
        let path = PathBuf::from(&args.out);
        Box::new(File::create(&path)?)
    };
    let mut out = BufWriter::with_capacity(8 << 20, sink);

    let started = std::time::Instant::now();
    let mut rng = Rng(args.seed);
    let mut written = 0u64;
    let mut records = 0u64;
    let mut packages = 0u64;
    let mut line = Vec::with_capacity(512);
    let mut scratch = Vec::with_capacity(32);

    if (HEADER.len() as u64) <= max_bytes {
        out.write_all(HEADER.as_bytes())?;
        written += HEADER.len() as u64;
    }

    'outer: while records < max_records {
        packages += 1;
        let pkg = build_package(&mut rng, packages, &mut scratch);
        for ev in &pkg.events {
            if records >= max_records {
                break 'outer;
            }
            line.clear();
            let second = rng.below(60) as u32;
            format_row(&mut line, &pkg, ev, second);
            if written + line.len() as u64 > max_bytes {
                break 'outer;
            }
            out.write_all(&line)?;
            written += line.len() as u64;
            records += 1;
        }
        scratch = pkg.events;
    }
    out.flush()?;

    let secs = started.elapsed().as_secs_f64();
    eprintln!(
        "gen_reference: {records} records ({packages} packages), {written} bytes, avg {:.1} B/record, {:.2} s, seed {}",
        if records > 0 {
            (written - HEADER.len() as u64) as f64 / records as f64
        } else {
            0.0
        },
        secs,
        args.seed
    );
    Ok(())
}
