//! The Markdown report, and whether the run is valid.

use std::fmt::Write as _;
use std::time::{Duration, Instant};

use halyard_benches::load::{Kind, Measured, Mixed};
use halyard_benches::proc_stats::{Machine, TreeSample};

use crate::cluster::Cluster;
use crate::streams::{Collected, Dialect};
use crate::{Args, Change, NodeSample};

/// Everything the report shows.
pub(crate) struct Run<'a> {
    pub(crate) command: String,
    pub(crate) machine: Machine,
    /// (program, version) of the cluster's third-party programs.
    pub(crate) versions: Vec<(&'static str, String)>,
    pub(crate) cluster: &'a Cluster,
    pub(crate) settings: Vec<(&'static str, String)>,
    pub(crate) flags: usize,
    /// From the first admin write to every edge serving every flag.
    pub(crate) seeded: Duration,
    pub(crate) kinds: &'a [Kind],
    pub(crate) routes: Vec<&'static str>,
    pub(crate) body_sizes: Vec<usize>,
    pub(crate) mixed: &'a Mixed,
    pub(crate) connections: usize,
    pub(crate) collected: &'a Collected,
    /// Streams open when the load began, per dialect.
    pub(crate) opened: [usize; 2],
    pub(crate) changes: &'a [Change],
    pub(crate) samples: (&'a NodeSample, &'a NodeSample),
    pub(crate) clock_ticks: u64,
    pub(crate) elapsed: Duration,
}

/// The run's settings, for the report.
pub(crate) fn settings(args: &Args) -> Vec<(&'static str, String)> {
    vec![
        (
            "measured window",
            format!("{} s (after {} s warm-up)", args.duration, args.warmup),
        ),
        ("request connections", args.connections.to_string()),
        (
            "request mix (legacy config / full config / evaluate / OFREP bulk)",
            args.mix
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(" / "),
        ),
        ("max requests", args.max_requests.to_string()),
        ("seeded legacy flags", args.flags.to_string()),
        (
            "SSE streams (v2 / legacy)",
            format!(
                "{} ({} / {}), opened {} at a time",
                args.streams,
                args.streams - args.streams / 2,
                args.streams / 2,
                args.open_concurrency
            ),
        ),
        (
            "admin changes",
            format!("{}, evenly spaced over the window", args.changes),
        ),
        ("stream timeout", format!("{} s", args.stream_timeout)),
    ]
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

const MIB: f64 = 1024.0 * 1024.0;

fn ms(value: f64) -> String {
    if value.is_nan() {
        "-".to_owned()
    } else if value < 10.0 {
        format!("{value:.2}")
    } else {
        format!("{value:.1}")
    }
}

fn request_row(out: &mut String, cells: [&str; 4], m: &Measured) {
    let [name, route, share, size] = cells;
    let _ = writeln!(
        out,
        "| {name} | {route} | {share} | {size} | {} | {:.0} | {} | {} | {} | {} | {} |",
        m.requests,
        m.rps,
        ms(m.p50_ms),
        ms(m.p90_ms),
        ms(m.p99_ms),
        ms(m.max_ms),
        m.errors
    );
}

fn node_row(
    out: &mut String,
    name: &str,
    first: &TreeSample,
    last: &TreeSample,
    wall: f64,
    ticks: u64,
) {
    let cpu = last.ticks.saturating_sub(first.ticks) as f64 / ticks as f64;
    let _ = writeln!(
        out,
        "| {name} | {} | {cpu:.2} | {:.1} | {:.1} |",
        last.processes,
        cpu / wall * 100.0,
        last.rss as f64 / MIB
    );
}

/// The report's text, and whether the run is valid.
pub(crate) fn render(run: &Run<'_>) -> (String, bool) {
    let mut out = String::new();
    let mut invalid: Vec<String> = Vec::new();
    let date = time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default();
    let m = &run.machine;
    let _ = writeln!(out, "# Halyard cluster load run\n");
    let _ = writeln!(out, "- date: {date}");
    let _ = writeln!(out, "- command: `{}`", run.command);
    let _ = writeln!(
        out,
        "- machine: {} CPUs (nproc), {}, {:.1} GiB memory, Linux {}",
        m.cpus,
        m.model,
        m.memory as f64 / MIB / 1024.0,
        m.kernel
    );
    let versions: Vec<String> = run
        .versions
        .iter()
        .map(|(program, version)| format!("{program} {version}"))
        .collect();
    let _ = writeln!(
        out,
        "- cluster: nginx {} in front of {} edges, the control plane {}, PostgreSQL and Redis, all on this machine (`scripts/cluster`, release build); the load generator runs here too",
        run.cluster.url,
        run.cluster.edges.len(),
        run.cluster.admin_url
    );
    let _ = writeln!(out, "- software: {}", versions.join(", "));
    let _ = writeln!(
        out,
        "- seeding: {} legacy flags through the admin API, one write at a time, until every edge served all of them: {:.2} s; the whole run took {:.1} s\n",
        run.flags,
        run.seeded.as_secs_f64(),
        run.elapsed.as_secs_f64()
    );

    let _ = writeln!(out, "## Settings\n\n| setting | value |\n|---|---|");
    for (name, value) in &run.settings {
        let _ = writeln!(out, "| {name} | {value} |");
    }

    // Requests.
    let total_weight: usize = run.kinds.iter().map(|k| k.weight).sum();
    let _ = writeln!(
        out,
        "\n## Requests through nginx\n\n{} keep-alive connections, one request at a time each; latency as the client saw it (ms); `errors`: non-200 responses and transport errors.\n",
        run.connections
    );
    let _ = writeln!(
        out,
        "| kind | request | share | response B | requests | req/s | p50 | p90 | p99 | max | errors |\n|---|---|---|---|---|---|---|---|---|---|---|"
    );
    for (i, (kind, measured)) in run.kinds.iter().zip(&run.mixed.kinds).enumerate() {
        request_row(
            &mut out,
            [
                &kind.name,
                &format!("`{}`", run.routes[i]),
                &format!("{:.0}%", kind.weight as f64 * 100.0 / total_weight as f64),
                &run.body_sizes[i].to_string(),
            ],
            measured,
        );
    }
    request_row(&mut out, ["**all**", "", "100%", ""], &run.mixed.overall);
    let _ = writeln!(
        out,
        "\nConnections opened: {} (nginx closes a client connection after its `keepalive_requests`, 1,000 by default; the client opens another, not counted as an error).",
        run.mixed.connections_opened
    );
    if run.mixed.overall.errors > 0 {
        invalid.push(format!(
            "{} requests failed; first: {}",
            run.mixed.overall.errors,
            run.mixed.overall.first_error.as_deref().unwrap_or("?")
        ));
    }

    // Streams.
    let c = run.collected;
    let _ = writeln!(
        out,
        "\n## SSE streams through nginx\n\n| dialect | request | streams | opened | failed to open | failed during the run |\n|---|---|---|---|---|---|"
    );
    for dialect in Dialect::BOTH {
        let d = dialect.index();
        let route = match dialect {
            Dialect::V2 => "`GET /api/client/stream?dialect=v2`",
            Dialect::Legacy => "`GET /api/client/stream`",
        };
        let _ = writeln!(
            out,
            "| {} | {route} | {} | {} | {} | {} |",
            dialect.name(),
            c.requested[d],
            c.opened[d],
            c.failed_to_open[d],
            c.closed[d]
        );
    }
    let _ = writeln!(
        out,
        "\nOpening all of them (initial `put`, or the legacy full resend's first event) took {:.2} s.",
        c.open_time.as_secs_f64()
    );
    let requested: usize = c.requested.iter().sum();
    if run.opened.iter().sum::<usize>() < requested {
        invalid.push(format!(
            "{} of {requested} streams opened",
            run.opened.iter().sum::<usize>()
        ));
    }
    if c.closed.iter().sum::<usize>() + c.failed_to_open.iter().sum::<usize>() > 0 {
        invalid.push(format!(
            "{} streams failed; first: {}",
            c.closed.iter().sum::<usize>() + c.failed_to_open.iter().sum::<usize>(),
            c.first_failure.as_deref().unwrap_or("?")
        ));
    }

    // Propagation.
    let sent_ok: Vec<bool> = run.changes.iter().map(|c| c.result.is_ok()).collect();
    let changes_ok = sent_ok.iter().filter(|&&ok| ok).count();
    for change in run.changes {
        if let Err(e) = &change.result {
            invalid.push(format!("an admin change failed: {e}"));
        }
    }
    let lag = |change: usize, at: Instant| -> Option<f64> {
        let sent = run.changes.get(change)?;
        sent.result
            .is_ok()
            .then(|| (at - sent.sent).as_secs_f64() * 1000.0)
    };
    let _ = writeln!(
        out,
        "\n## Propagation: admin write to SSE arrival\n\nFrom just before the admin `PUT` to the change's arrival on each stream (v2 `patch`, legacy `flag_updated`), over all (stream, change) pairs, ms.\n"
    );
    let _ = writeln!(
        out,
        "| dialect | streams | changes | arrivals | missing | p50 | p90 | p99 | max |\n|---|---|---|---|---|---|---|---|---|"
    );
    let mut all = Vec::new();
    let mut all_expected = 0;
    let mut slowest = vec![0.0f64; run.changes.len()];
    let mut per_change = vec![0usize; run.changes.len()];
    for dialect in Dialect::BOTH {
        let mut lags: Vec<f64> = c
            .arrivals
            .iter()
            .filter(|(d, ..)| *d == dialect)
            .filter_map(|&(_, change, at)| {
                let lag = lag(change, at)?;
                slowest[change] = slowest[change].max(lag);
                per_change[change] += 1;
                Some(lag)
            })
            .collect();
        lags.sort_by(f64::total_cmp);
        let expected = run.opened[dialect.index()] * changes_ok;
        all_expected += expected;
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} |",
            dialect.name(),
            run.opened[dialect.index()],
            changes_ok,
            lags.len(),
            expected.saturating_sub(lags.len()),
            ms(percentile(&lags, 0.5)),
            ms(percentile(&lags, 0.9)),
            ms(percentile(&lags, 0.99)),
            ms(lags.last().copied().unwrap_or(f64::NAN))
        );
        all.extend(lags);
    }
    all.sort_by(f64::total_cmp);
    let missing = all_expected.saturating_sub(all.len());
    let _ = writeln!(
        out,
        "| **all** | {} | {} | {} | {missing} | {} | {} | {} | {} |",
        run.opened.iter().sum::<usize>(),
        changes_ok,
        all.len(),
        ms(percentile(&all, 0.5)),
        ms(percentile(&all, 0.9)),
        ms(percentile(&all, 0.99)),
        ms(all.last().copied().unwrap_or(f64::NAN))
    );
    if missing > 0 {
        invalid.push(format!("{missing} change arrivals are missing"));
    }
    let streams_open: usize = run.opened.iter().sum();
    let mut to_all: Vec<f64> = slowest
        .iter()
        .zip(&per_change)
        .zip(&sent_ok)
        .filter(|&((_, &n), &ok)| ok && n >= streams_open)
        .map(|((&s, _), _)| s)
        .collect();
    to_all.sort_by(f64::total_cmp);
    let mut writes: Vec<f64> = run
        .changes
        .iter()
        .filter_map(|c| c.result.as_ref().ok())
        .map(|d| d.as_secs_f64() * 1000.0)
        .collect();
    writes.sort_by(f64::total_cmp);
    let _ = writeln!(
        out,
        "\nUntil a change was on every stream (its slowest arrival), over the {} complete changes: p50 {} ms, max {} ms. The admin `PUT` itself answered in p50 {} ms, max {} ms.",
        to_all.len(),
        ms(percentile(&to_all, 0.5)),
        ms(to_all.last().copied().unwrap_or(f64::NAN)),
        ms(percentile(&writes, 0.5)),
        ms(writes.last().copied().unwrap_or(f64::NAN))
    );
    if !c.unexpected.is_empty() {
        let list: Vec<String> = c
            .unexpected
            .iter()
            .map(|(what, n)| format!("{what} ({n})"))
            .collect();
        let _ = writeln!(out, "\nOther events: {}.", list.join(", "));
    }

    // Per edge.
    let (first, last) = run.samples;
    let wall = (last.at - first.at).as_secs_f64();
    let served: Vec<u64> = first
        .edges
        .iter()
        .zip(&last.edges)
        .map(|(a, b)| b.requests.saturating_sub(a.requests))
        .collect();
    let served_total: u64 = served.iter().sum();
    let _ = writeln!(
        out,
        "\n## Per edge (from each edge's /metrics)\n\n| edge | v2 streams | legacy streams | requests served in the window | share |\n|---|---|---|---|---|"
    );
    for (i, (edge, served)) in first.edges.iter().zip(&served).enumerate() {
        let _ = writeln!(
            out,
            "| edge-{i} | {} | {} | {served} | {:.0}% |",
            edge.v2_streams,
            edge.legacy_streams,
            *served as f64 * 100.0 / served_total.max(1) as f64
        );
    }

    // Nodes.
    let _ = writeln!(
        out,
        "\n## CPU and memory per node\n\nOver the measured window ({wall:.1} s): CPU seconds (`utime + stime` of the node's processes, plus `cutime + cstime`, so children that exited count; clock tick {} Hz) and CPU % = CPU seconds / wall seconds x 100 (100% = one core); RSS (`VmRSS`, summed over the node's processes) at the end. nginx: master and workers; PostgreSQL: the postmaster and all its children (shared buffers count once per process).\n",
        run.clock_ticks
    );
    let _ = writeln!(
        out,
        "| node | processes | CPU s | CPU % | RSS MiB |\n|---|---|---|---|---|"
    );
    let mut sum_first = TreeSample::default();
    let mut sum_last = TreeSample::default();
    for (i, (name, _)) in run.cluster.pids.iter().enumerate() {
        node_row(
            &mut out,
            name,
            &first.nodes[i],
            &last.nodes[i],
            wall,
            run.clock_ticks,
        );
        sum_first.ticks += first.nodes[i].ticks;
        sum_last.ticks += last.nodes[i].ticks;
        sum_last.rss += last.nodes[i].rss;
        sum_last.processes += last.nodes[i].processes;
    }
    node_row(
        &mut out,
        "**cluster**",
        &sum_first,
        &sum_last,
        wall,
        run.clock_ticks,
    );
    node_row(
        &mut out,
        "cluster-load (the load generator)",
        &first.client,
        &last.client,
        wall,
        run.clock_ticks,
    );
    let busy = last.machine.0.saturating_sub(first.machine.0) as f64;
    let total = last.machine.1.saturating_sub(first.machine.1).max(1) as f64;
    let _ = writeln!(
        out,
        "| machine (`/proc/stat`, everything) | | {:.2} | {:.1} of {} | |",
        busy / run.clock_ticks as f64,
        busy / total * 100.0 * run.machine.cpus as f64,
        run.machine.cpus * 100
    );

    let valid = invalid.is_empty();
    if valid {
        let _ = writeln!(
            out,
            "\nThe run is valid: every request answered 200, every stream opened and stayed open, and every change arrived on every stream."
        );
    } else {
        let _ = writeln!(out, "\n**The run is INVALID:**\n");
        for reason in &invalid {
            let _ = writeln!(out, "- {reason}");
        }
    }
    (out, valid)
}
