//! Builds the dashboard (`../dashboard`, a Vite + React app) into OUT_DIR and
//! generates the table of its files that `api::dashboard` serves, so the
//! `halyard` binary carries its UI and no built asset is committed.
//!
//! Needs Node.js 20+ and npm. Without them the build fails and says what to
//! install; `HALYARD_SKIP_DASHBOARD=1` builds a binary without the UI
//! instead (its `/` then says so).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::{env, fs};

const SKIP: &str = "HALYARD_SKIP_DASHBOARD";

fn main() {
    println!("cargo:rerun-if-env-changed={SKIP}");
    let out_dir = PathBuf::from(env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    let table = out_dir.join("dashboard_assets.rs");
    if env::var(SKIP).is_ok_and(|v| !v.is_empty() && v != "0") {
        write(
            &table,
            "/// Built without the dashboard.\npub(crate) const ASSETS: &[Asset] = &[];\n",
        );
        return;
    }
    let source = Path::new(env!("CARGO_MANIFEST_DIR")).join("../dashboard");
    let source = source.canonicalize().unwrap_or(source);
    for input in [
        "src",
        "index.html",
        "package.json",
        "package-lock.json",
        "vite.config.ts",
        "tsconfig.json",
        "postcss.config.cjs",
    ] {
        println!("cargo:rerun-if-changed={}", source.join(input).display());
    }
    // sqlx::migrate! embeds ../migrations: a new migration must rebuild.
    println!(
        "cargo:rerun-if-changed={}",
        source.join("../migrations").display()
    );
    check_node();
    // `npm ci` only when the lock file is newer than the installed tree
    // (npm writes node_modules/.package-lock.json at every install).
    let installed = source.join("node_modules/.package-lock.json");
    if modified(&installed) < modified(&source.join("package-lock.json")) {
        npm(
            &source,
            &["ci", "--no-audit", "--no-fund", "--loglevel=error"],
            None,
        );
    }
    let dist = out_dir.join("dashboard");
    npm(&source, &["run", "build", "--silent"], Some(&dist));

    let mut files = Vec::new();
    collect(&dist, &mut files);
    files.sort();
    let mut code = String::from(
        "/// The dashboard's files: (URL path, content type, bytes).\npub(crate) const ASSETS: &[Asset] = &[\n",
    );
    for file in files {
        let url = format!(
            "/{}",
            file.strip_prefix(&dist).expect("under dist").display()
        )
        .replace('\\', "/");
        code.push_str(&format!(
            "    Asset {{ path: {url:?}, content_type: {:?}, bytes: include_bytes!({:?}) }},\n",
            content_type(&file),
            file.display().to_string(),
        ));
    }
    code.push_str("];\n");
    write(&table, &code);
}

fn fail(message: &str) -> ! {
    eprintln!("\nerror: {message}\n");
    std::process::exit(1);
}

fn check_node() {
    let help = format!(
        "the dashboard is built from source with Node.js 20 or newer and npm: install them \
         (https://nodejs.org, or apt-get install nodejs npm where that gives 20+), \
         or set {SKIP}=1 to build halyard without the dashboard"
    );
    let version = Command::new("node")
        .arg("--version")
        .output()
        .ok()
        .filter(|out| out.status.success())
        .map(|out| String::from_utf8_lossy(&out.stdout).trim().to_owned())
        .unwrap_or_else(|| fail(&format!("node was not found. {help}")));
    let major: u32 = version
        .trim_start_matches('v')
        .split('.')
        .next()
        .and_then(|m| m.parse().ok())
        .unwrap_or(0);
    if major < 20 {
        fail(&format!("found Node.js {version}. {help}"));
    }
}

fn npm(dir: &Path, args: &[&str], out: Option<&Path>) {
    let mut command = Command::new("npm");
    command.args(args).current_dir(dir);
    if let Some(out) = out {
        command.env("HALYARD_DASHBOARD_OUT", out);
    }
    match command.status() {
        Ok(status) if status.success() => {}
        Ok(status) => fail(&format!(
            "`npm {}` in {} failed ({status}); see its output above (or set {SKIP}=1 to build without the dashboard)",
            args.join(" "),
            dir.display()
        )),
        Err(err) => fail(&format!(
            "cannot run npm ({err}): install Node.js 20+ with npm (https://nodejs.org), or set {SKIP}=1 to build without the dashboard"
        )),
    }
}

fn modified(path: &Path) -> Option<std::time::SystemTime> {
    fs::metadata(path).and_then(|m| m.modified()).ok()
}

fn collect(dir: &Path, files: &mut Vec<PathBuf>) {
    let entries = fs::read_dir(dir).unwrap_or_else(|err| {
        fail(&format!(
            "the dashboard build left no {}: {err}",
            dir.display()
        ))
    });
    for entry in entries {
        let path = entry.expect("readable build output").path();
        if path.is_dir() {
            collect(&path, files);
        } else {
            files.push(path);
        }
    }
}

fn content_type(path: &Path) -> &'static str {
    match path
        .extension()
        .and_then(|e| e.to_str())
        .unwrap_or_default()
    {
        "html" => "text/html; charset=utf-8",
        "js" | "mjs" => "text/javascript; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "json" | "map" => "application/json",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "ico" => "image/x-icon",
        "woff2" => "font/woff2",
        "txt" => "text/plain; charset=utf-8",
        _ => "application/octet-stream",
    }
}

fn write(path: &Path, contents: &str) {
    // Unchanged contents keep their mtime, so dependants do not rebuild.
    if fs::read_to_string(path).is_ok_and(|old| old == contents) {
        return;
    }
    fs::write(path, contents)
        .unwrap_or_else(|err| fail(&format!("cannot write {}: {err}", path.display())));
}
