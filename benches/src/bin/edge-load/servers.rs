//! The two servers under load, each run in a child process of this binary
//! (a multi-threaded Tokio runtime, as the `halyard` command uses). Each
//! stops when its standard input closes, so neither outlives the run.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context as _;
use bytes::Bytes;
use clap::Parser;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::header::{CONTENT_ENCODING, CONTENT_TYPE, HeaderValue};
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use serde_json::{Value, json};
use tokio::io::AsyncReadExt;
use tokio::net::TcpListener;

/// `serve-edge`: an edge on `--listen`, synced from Redis.
#[derive(Debug, Clone, clap::Args)]
pub(crate) struct EdgeArgs {
    /// Address to listen on.
    #[arg(long)]
    listen: SocketAddr,
    /// Redis URL.
    #[arg(long)]
    redis_url: String,
    /// Redis key prefix.
    #[arg(long)]
    redis_prefix: String,
}

/// `serve-baseline`: the minimal hyper server.
#[derive(Debug, Clone, clap::Args)]
pub(crate) struct BaselineArgs {
    /// Address to listen on.
    #[arg(long)]
    listen: SocketAddr,
    /// Bytes of `GET /config` (the edge's full configuration response).
    #[arg(long)]
    config: PathBuf,
    /// Their `Content-Encoding`, if the edge sent one.
    #[arg(long)]
    config_encoding: Option<String>,
    /// Bytes of `POST /all-flags` (the edge's all-flags evaluate response).
    #[arg(long)]
    all_flags: PathBuf,
    /// Their `Content-Encoding`.
    #[arg(long)]
    all_flags_encoding: Option<String>,
    /// Bytes of `POST /ofrep-bulk` (the edge's OFREP bulk response).
    #[arg(long)]
    ofrep_bulk: PathBuf,
    /// Their `Content-Encoding`.
    #[arg(long)]
    ofrep_bulk_encoding: Option<String>,
}

/// The edge's own command line, so that the edge's defaults (and any
/// options it gains) apply exactly as in `halyard edge`.
#[derive(Debug, Parser)]
struct EdgeCli {
    #[command(flatten)]
    config: halyard_edge::config::EdgeConfig,
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .init();
    Ok(tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?)
}

/// Completes when standard input closes: the parent exited or let go.
async fn parent_gone() {
    let mut stdin = tokio::io::stdin();
    let mut buffer = [0u8; 64];
    while let Ok(n) = stdin.read(&mut buffer).await {
        if n == 0 {
            break;
        }
    }
}

/// Runs the edge until standard input closes.
pub(crate) fn serve_edge(args: EdgeArgs) -> anyhow::Result<()> {
    // Raise the open files limit for the streams (to the hard limit).
    rlimit::increase_nofile_limit(u64::MAX).context("raising the open files limit")?;
    let listen = args.listen.to_string();
    let cli = EdgeCli::try_parse_from([
        "edge",
        "--listen",
        &listen,
        "--redis-url",
        &args.redis_url,
        "--redis-prefix",
        &args.redis_prefix,
    ])?;
    let result = runtime()?.block_on(Box::pin(halyard_edge::startup::run(
        cli.config,
        parent_gone(),
    )));
    // Do not wait for the blocking thread reading standard input.
    if let Err(e) = result {
        eprintln!("edge: {e:#}");
        std::process::exit(1);
    }
    std::process::exit(0)
}

/// What the baseline answers with.
struct Bodies {
    config: Bytes,
    config_encoding: Option<HeaderValue>,
    all_flags: Bytes,
    all_flags_encoding: Option<HeaderValue>,
    ofrep_bulk: Bytes,
    ofrep_bulk_encoding: Option<HeaderValue>,
}

/// Runs the baseline until standard input closes.
pub(crate) fn serve_baseline(args: BaselineArgs) -> anyhow::Result<()> {
    let read = |path: &PathBuf| -> anyhow::Result<Bytes> {
        Ok(Bytes::from(
            std::fs::read(path).with_context(|| format!("reading {}", path.display()))?,
        ))
    };
    let encoding = |e: &Option<String>| -> anyhow::Result<Option<HeaderValue>> {
        Ok(e.as_deref().map(HeaderValue::from_str).transpose()?)
    };
    let bodies = Arc::new(Bodies {
        config: read(&args.config)?,
        config_encoding: encoding(&args.config_encoding)?,
        all_flags: read(&args.all_flags)?,
        all_flags_encoding: encoding(&args.all_flags_encoding)?,
        ofrep_bulk: read(&args.ofrep_bulk)?,
        ofrep_bulk_encoding: encoding(&args.ofrep_bulk_encoding)?,
    });
    runtime()?.block_on(async move {
        let listener = TcpListener::bind(args.listen).await?;
        let serve = async {
            loop {
                let (stream, _) = match listener.accept().await {
                    Ok(accepted) => accepted,
                    Err(e) => {
                        eprintln!("baseline: accept: {e}");
                        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
                        continue;
                    }
                };
                let bodies = Arc::clone(&bodies);
                tokio::spawn(async move {
                    let service = service_fn(move |request| handle(request, Arc::clone(&bodies)));
                    // Keep-alive is hyper's default.
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        };
        tokio::select! {
            () = serve => {}
            () = parent_gone() => {}
        }
        anyhow::Ok(())
    })?;
    std::process::exit(0)
}

fn respond(
    status: StatusCode,
    content_type: &'static str,
    encoding: Option<&HeaderValue>,
    body: Bytes,
) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(body));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    if let Some(encoding) = encoding {
        headers.insert(CONTENT_ENCODING, encoding.clone());
    }
    response
}

/// Reads a `{"context": {...}}` body as JSON, as the edge does.
async fn parse_context(body: Incoming) -> Option<Value> {
    let bytes = body.collect().await.ok()?.to_bytes();
    let value: Value = serde_json::from_slice(&bytes).ok()?;
    value
        .get("context")
        .is_some_and(Value::is_object)
        .then_some(value)
}

async fn handle(
    request: Request<Incoming>,
    bodies: Arc<Bodies>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    const JSON: &str = "application/json";
    let (parts, body) = request.into_parts();
    let bad_request = || {
        respond(
            StatusCode::BAD_REQUEST,
            JSON,
            None,
            Bytes::from_static(br#"{"error":"invalid_request"}"#),
        )
    };
    let response = match (&parts.method, parts.uri.path()) {
        (&Method::GET, "/hello") => respond(
            StatusCode::OK,
            "text/plain",
            None,
            Bytes::from_static(b"Hello, world!"),
        ),
        (&Method::GET, "/config") => respond(
            StatusCode::OK,
            JSON,
            bodies.config_encoding.as_ref(),
            bodies.config.clone(),
        ),
        (&Method::POST, "/small") => match parse_context(body).await {
            Some(_) => {
                let small =
                    json!({"key": "x", "value": true, "variant": "true", "reason": "STATIC"});
                let bytes = serde_json::to_vec(&small).expect("JSON serializes");
                respond(StatusCode::OK, JSON, None, Bytes::from(bytes))
            }
            None => bad_request(),
        },
        (&Method::POST, "/all-flags") => match parse_context(body).await {
            Some(_) => respond(
                StatusCode::OK,
                JSON,
                bodies.all_flags_encoding.as_ref(),
                bodies.all_flags.clone(),
            ),
            None => bad_request(),
        },
        (&Method::POST, "/ofrep-bulk") => match parse_context(body).await {
            Some(_) => respond(
                StatusCode::OK,
                JSON,
                bodies.ofrep_bulk_encoding.as_ref(),
                bodies.ofrep_bulk.clone(),
            ),
            None => bad_request(),
        },
        _ => respond(StatusCode::NOT_FOUND, "text/plain", None, Bytes::new()),
    };
    Ok(response)
}
