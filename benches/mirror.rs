//! vetted against skopeo, side by side on the same machine, registries and images.
//!
//! `cargo bench --bench mirror -- [bulk|latency|moonshot|all] [--quick]`
//!
//! Everything is generated with the development kit (`vetted_sandbox::kit`): deterministic layer
//! files (written once to a temp dir and streamed, never held in memory), a plain anonymous
//! `docker-registry` as the source, a fresh `vetted sandbox` (hub API + token-auth registry) as the
//! target of each measurement, and, for the latency-bound scenario, the sandbox's proxy in front of
//! each registry and the hub API, adding 20 ms to every request. vetted runs as the real product: `vetted apply --yes` of a policy mirroring the images.
//! skopeo runs as users run it: `skopeo copy --all` per image. Each tool is a child process whose
//! wall time, peak RSS (`wait4` rusage) and I/O bytes (`/proc/PID/io`, read before reaping) are
//! printed, with the ratios. Only 127.0.0.1 is used; every loop is bounded.

#[cfg(not(target_os = "linux"))]
fn main() {
    eprintln!("the mirror benchmark measures child processes through Linux interfaces only");
}

#[cfg(target_os = "linux")]
fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a tokio runtime");
    if let Err(e) = rt.block_on(bench::main()) {
        eprintln!("benchmark failed: {e:#}");
        std::process::exit(1);
    }
}

#[cfg(target_os = "linux")]
mod bench {
    use std::collections::{BTreeMap, BTreeSet};
    use std::io::{BufRead, BufReader};
    use std::path::{Path, PathBuf};
    use std::process::{Child, Command, Stdio};
    use std::time::{Duration, Instant};

    use anyhow::{Context, Result, anyhow, bail};
    use futures::StreamExt;
    use serde_json::json;
    use url::Url;
    use vetted_sandbox::kit::images::{
        self as generate, Blob as Manifest, FileBlob as Blob, Format, Platform, image_manifest,
        index_manifest,
    };
    use vetted_sandbox::kit::push::{Credentials as Login, Pusher};
    use vetted_sandbox::kit::registry::{RegistryAuth, RegistryOptions, RegistryProcess};
    use vetted_sandbox::proxy::{Proxy, ProxyOptions};

    const VETTED: &str = env!("CARGO_BIN_EXE_vetted");
    const REGISTRY_BIN: &str = vetted_sandbox::kit::registry::DEFAULT_BINARY;
    const OWNER: &str = "alice";
    const OWNER_SECRET: &str = "sandbox-alice-token";
    const PUBLISHER: &str = "publisher";
    const PUBLISHER_SECRET: &str = "sandbox-publisher-token";
    /// The width of the raw upload, of parallel skopeo and of publishing (vetted runs at its own
    /// default `--copy-parallelism`, 32; for the raw upload 8 and 32 are the same 1 GiB layer).
    const PARALLELISM: usize = 8;
    const MIB: u64 = 1024 * 1024;
    /// The seed of the generated content.
    const CONTENT_SEED: u64 = 1;

    const SEED: &str = r#"
org = "acme"
[users.alice]
full_name = "Alice Owner"
email = "alice@acme.example"
[users.publisher]
full_name = "A community publisher"
email = "publisher@elsewhere.example"
[[credentials]]
identifier = "alice"
secret = "sandbox-alice-token"
kind = "password"
[[credentials]]
identifier = "publisher"
secret = "sandbox-publisher-token"
kind = "password"
[members]
alice = "owner"
"#;

    // ---------------------------------------------------------------- data

    /// A generated image: blobs, child manifests (of an index) and the top-level manifest.
    #[derive(Debug, Clone)]
    struct Image {
        name: String,
        blobs: Vec<Blob>,
        children: Vec<Manifest>,
        top: Manifest,
    }

    const TAG: &str = "v1";

    /// Writes each layer once per key ([`generate::write_content`]) and builds the manifests.
    struct Generator {
        dir: PathBuf,
        made: BTreeMap<String, Blob>,
    }

    impl Generator {
        fn layer(&mut self, key: &str, size: u64) -> Result<Blob> {
            if let Some(b) = self.made.get(key) {
                return Ok(b.clone());
            }
            let path = self.dir.join(format!("{}.layer", self.made.len()));
            let blob = generate::write_content(CONTENT_SEED, key, size, &path)?;
            self.made.insert(key.to_string(), blob.clone());
            Ok(blob)
        }

        fn small(&mut self, data: &[u8]) -> Result<Blob> {
            let digest = generate::digest_of(data);
            if let Some(b) = self.made.get(&digest) {
                return Ok(b.clone());
            }
            let path = self.dir.join(format!("{}.json", self.made.len()));
            std::fs::write(&path, data)?;
            let blob = Blob {
                digest: digest.clone(),
                size: data.len() as u64,
                path,
            };
            self.made.insert(digest, blob.clone());
            Ok(blob)
        }

        /// A single-platform manifest over `layers` (key, size).
        fn manifest(
            &mut self,
            format: Format,
            arch: &str,
            layers: &[(String, u64)],
            blobs: &mut Vec<Blob>,
        ) -> Result<Manifest> {
            let mut descs = Vec::new();
            let mut diff_ids = Vec::new();
            for (key, size) in layers {
                let b = self.layer(key, *size)?;
                descs.push(generate::descriptor(format.layer(), &b.digest, b.size));
                diff_ids.push(b.digest.clone());
                blobs.push(b);
            }
            let config = serde_json::to_vec(&json!({
                "architecture": arch, "os": "linux",
                "rootfs": {"type": "layers", "diff_ids": diff_ids},
                "config": {"Labels": {"bench": layers.iter().map(|l| l.0.as_str()).collect::<Vec<_>>().join(",")}}
            }))?;
            let cb = self.small(&config)?;
            let manifest = image_manifest(
                format,
                generate::descriptor(format.config(), &cb.digest, cb.size),
                descs,
            );
            blobs.push(cb);
            Ok(manifest)
        }

        fn image(&mut self, name: &str, layers: &[(String, u64)]) -> Result<Image> {
            let mut blobs = Vec::new();
            let top = self.manifest(Format::Docker, "amd64", layers, &mut blobs)?;
            Ok(Image {
                name: name.to_string(),
                blobs: dedup(blobs),
                children: Vec::new(),
                top,
            })
        }

        fn multi_arch(
            &mut self,
            name: &str,
            per_arch: &[(&str, Vec<(String, u64)>)],
        ) -> Result<Image> {
            let mut blobs = Vec::new();
            let mut children = Vec::new();
            for (arch, layers) in per_arch {
                let m = self.manifest(Format::Oci, arch, layers, &mut blobs)?;
                children.push((Platform::new("linux", arch, None), m));
            }
            let refs: Vec<(Platform, &Manifest)> =
                children.iter().map(|(p, m)| (p.clone(), m)).collect();
            let top = index_manifest(Format::Oci, &refs);
            Ok(Image {
                name: name.to_string(),
                blobs: dedup(blobs),
                children: children.into_iter().map(|(_, m)| m).collect(),
                top,
            })
        }
    }

    fn dedup(blobs: Vec<Blob>) -> Vec<Blob> {
        let mut seen = BTreeSet::new();
        blobs
            .into_iter()
            .filter(|b| seen.insert(b.digest.clone()))
            .collect()
    }

    fn unique_blobs(images: &[Image]) -> Vec<Blob> {
        dedup(images.iter().flat_map(|i| i.blobs.clone()).collect())
    }

    fn total(blobs: &[Blob]) -> u64 {
        blobs.iter().map(|b| b.size).sum()
    }

    /// Bulk: 10 images sharing base layers, one multi-arch, one layer of at least 1 GiB.
    fn bulk_images(generator: &mut Generator, quick: bool) -> Result<Vec<Image>> {
        let unit = if quick { MIB / 8 } else { MIB };
        let base = ("base-os".to_string(), 48 * unit);
        let runtime = ("runtime".to_string(), 96 * unit);
        let big = if quick { 64 * MIB } else { 1024 * MIB + MIB };
        let mut images = Vec::new();
        for i in 0..10u64 {
            let name = format!("img{i}");
            let own = (format!("own-{i}"), (8 + 4 * i) * unit);
            let image = match i {
                1 => generator.multi_arch(
                    &name,
                    &[
                        ("amd64", vec![base.clone(), own.clone()]),
                        (
                            "arm64",
                            vec![
                                ("base-os-arm64".to_string(), 48 * unit),
                                ("own-1-arm64".to_string(), 12 * unit),
                            ],
                        ),
                    ],
                )?,
                2..=6 => generator.image(&name, &[base.clone(), runtime.clone(), own])?,
                9 => generator.image(&name, &[base.clone(), ("big".to_string(), big), own])?,
                _ => generator.image(&name, &[base.clone(), own])?,
            };
            images.push(image);
        }
        Ok(images)
    }

    /// Latency-bound: `n` small images over a shared 1 MiB base and two small own layers.
    fn small_images(generator: &mut Generator, n: usize) -> Result<Vec<Image>> {
        (0..n)
            .map(|i| {
                generator.image(
                    &format!("img{i}"),
                    &[
                        ("small-base".to_string(), MIB),
                        (format!("small-a-{i}"), 16 * 1024),
                        (format!("small-b-{i}"), 48 * 1024),
                    ],
                )
            })
            .collect()
    }

    // ---------------------------------------------------------------- pushing

    /// Connects the kit's push client (generous timeouts: a layer may be over 1 GiB).
    async fn pusher(base: &str, login: Option<Login>) -> Result<Pusher> {
        let base = Url::parse(&format!("{}/", base.trim_end_matches('/')))?;
        Pusher::connect(&base, login, Duration::from_secs(600)).await
    }

    /// Publishes images as `namespace/<name>:v1`, blobs `PARALLELISM` at a time.
    async fn publish(pusher: &Pusher, namespace: &str, images: &[Image]) -> Result<()> {
        for image in images {
            let repo = format!("{namespace}/{}", image.name);
            let results: Vec<Result<()>> = futures::stream::iter(image.blobs.iter())
                .map(|b| {
                    let repo = repo.clone();
                    async move {
                        if !pusher.blob_exists(&repo, &b.digest).await? {
                            pusher.upload_file(&repo, b).await?;
                        }
                        Ok(())
                    }
                })
                .buffer_unordered(PARALLELISM)
                .collect()
                .await;
            results.into_iter().collect::<Result<()>>()?;
            for child in &image.children {
                pusher.push_manifest(&repo, &child.digest, child).await?;
            }
            pusher.push_manifest(&repo, TAG, &image.top).await?;
        }
        Ok(())
    }

    /// The raw ceiling: every blob uploaded once into one repository, `PARALLELISM` at a time.
    async fn raw_upload(pusher: &Pusher, repo: &str, blobs: &[Blob]) -> Result<()> {
        let results: Vec<Result<()>> = futures::stream::iter(blobs.iter())
            .map(|b| pusher.upload_file(repo, b))
            .buffer_unordered(PARALLELISM)
            .collect()
            .await;
        results.into_iter().collect()
    }

    // ---------------------------------------------------------------- processes

    /// A child killed (and reaped) on drop.
    struct Proc(Child);

    impl Drop for Proc {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }

    /// A plain anonymous docker-registry (the source).
    struct SourceRegistry {
        _process: RegistryProcess,
        host: String,
    }

    async fn start_source(dir: &Path) -> Result<SourceRegistry> {
        let dir = dir.join("source");
        std::fs::create_dir_all(&dir)?;
        let process = RegistryProcess::start(
            &dir,
            RegistryOptions {
                auth: RegistryAuth::Anonymous,
                cdn: None,
            },
        )
        .await?;
        let host = process.host();
        Ok(SourceRegistry {
            _process: process,
            host,
        })
    }

    /// A fresh `vetted sandbox` (hub API + registry) in its own directory.
    struct Sandbox {
        _proc: Proc,
        hub: String,
        registry: String,
        dir: tempfile::TempDir,
    }

    impl Sandbox {
        fn registry_host(&self) -> &str {
            self.registry
                .trim_start_matches("http://")
                .trim_end_matches('/')
        }
    }

    /// The hub API budget of the sandboxes that measure mirroring: large enough that vetted's
    /// pacing never waits, so the figures measure mirroring (the moonshot runs under Docker Hub's
    /// 600 per minute instead, [`HUB_BUDGET`]).
    const MEASURE_BUDGET: u64 = 1_000_000;
    /// Docker Hub's announced API budget per minute, the sandbox's default.
    const HUB_BUDGET: u64 = 600;

    fn start_sandbox(parent: &Path) -> Result<Sandbox> {
        start_sandbox_with(parent, MEASURE_BUDGET)
    }

    fn start_sandbox_with(parent: &Path, api_budget: u64) -> Result<Sandbox> {
        let dir = tempfile::Builder::new()
            .prefix("sandbox")
            .tempdir_in(parent)?;
        let seed = dir.path().join("seed.toml");
        std::fs::write(&seed, SEED)?;
        let mut child = Command::new(VETTED)
            .args(["sandbox", "--port", "0", "--api-budget"])
            .arg(api_budget.to_string())
            .arg("--seed")
            .arg(&seed)
            .arg("--state")
            .arg(dir.path().join("state.json"))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(dir.path().join("sandbox.log"))?)
            .spawn()?;
        let stdout = child.stdout.take().ok_or_else(|| anyhow!("no stdout"))?;
        let proc = Proc(child);
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut reader = BufReader::new(stdout);
            for _ in 0..2 {
                let mut line = String::new();
                let _ = reader.read_line(&mut line);
                let _ = tx.send(line.trim().to_string());
            }
        });
        let mut lines = Vec::new();
        for _ in 0..2 {
            let line = rx
                .recv_timeout(Duration::from_secs(120))
                .context("the sandbox did not print its URLs within 120 s")?;
            if !line.starts_with("http://127.0.0.1:") {
                bail!(
                    "the sandbox printed {line:?}; see {}",
                    dir.path().join("sandbox.log").display()
                );
            }
            lines.push(line);
        }
        Ok(Sandbox {
            _proc: proc,
            hub: lines[0].clone(),
            registry: lines[1].clone(),
            dir,
        })
    }

    /// What one measured run (one or more child processes) cost.
    #[derive(Debug, Clone, Copy, Default)]
    struct Measure {
        wall: Duration,
        /// Largest peak RSS of the children, KiB.
        max_rss_kib: u64,
        /// CPU time (user + system) of the children.
        cpu: Duration,
        written_bytes: u64,
    }

    /// `/proc/PID/io` rchar and wchar. wchar counts every write(2)/writev(2), sockets included, so it
    /// is the bytes a tool sent; rchar misses recv(2) (which tokio reads sockets with), so reads are
    /// not compared.
    fn proc_io(pid: u32) -> (u64, u64) {
        let text = std::fs::read_to_string(format!("/proc/{pid}/io")).unwrap_or_default();
        let field = |name: &str| {
            text.lines()
                .find_map(|l| l.strip_prefix(name))
                .and_then(|v| v.trim().parse().ok())
                .unwrap_or(0)
        };
        (field("rchar:"), field("wchar:"))
    }

    /// Waits for `child` to exit, reads its I/O counters before reaping it, then reaps it with
    /// `wait4` for its rusage. Returns (exit ok, peak RSS KiB, bytes written, CPU time).
    fn reap(child: Child) -> Result<(bool, u64, u64, Duration)> {
        let pid = child.id();
        // SAFETY: plain syscalls on our own child's pid with zeroed out-parameters.
        unsafe {
            let mut info: libc::siginfo_t = std::mem::zeroed();
            if libc::waitid(libc::P_PID, pid, &mut info, libc::WEXITED | libc::WNOWAIT) != 0 {
                bail!("waitid: {}", std::io::Error::last_os_error());
            }
            let (_, written) = proc_io(pid);
            let mut status = 0;
            let mut usage: libc::rusage = std::mem::zeroed();
            if libc::wait4(pid as libc::pid_t, &mut status, 0, &mut usage) < 0 {
                bail!("wait4: {}", std::io::Error::last_os_error());
            }
            std::mem::forget(child);
            let ok = libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0;
            let time = |t: libc::timeval| {
                Duration::from_secs(u64::try_from(t.tv_sec).unwrap_or(0))
                    + Duration::from_micros(u64::try_from(t.tv_usec).unwrap_or(0))
            };
            let cpu = time(usage.ru_utime) + time(usage.ru_stime);
            Ok((
                ok,
                u64::try_from(usage.ru_maxrss).unwrap_or(0),
                written,
                cpu,
            ))
        }
    }

    /// Runs the commands, at most `parallel` at a time, and measures them together. Each
    /// command's stderr goes to `log` (appended); a failure names the log.
    fn run_measured(commands: Vec<Command>, parallel: usize, log: &Path) -> Result<Measure> {
        let start = Instant::now();
        let mut m = Measure::default();
        let mut queue = commands.into_iter();
        let mut running: Vec<Child> = Vec::new();
        let mut failed = false;
        loop {
            while running.len() < parallel {
                let Some(mut cmd) = queue.next() else { break };
                let log_file = std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(log)?;
                cmd.stdin(Stdio::null())
                    .stdout(log_file.try_clone()?)
                    .stderr(log_file);
                running.push(cmd.spawn().with_context(|| format!("starting {cmd:?}"))?);
            }
            if running.is_empty() {
                break;
            }
            // Reap whichever child exits first (bounded: each child is reaped exactly once).
            let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
            // SAFETY: waits for any of our children without reaping it.
            if unsafe { libc::waitid(libc::P_ALL, 0, &mut info, libc::WEXITED | libc::WNOWAIT) }
                != 0
            {
                bail!("waitid: {}", std::io::Error::last_os_error());
            }
            // SAFETY: si_pid is valid for an exited child.
            let pid = unsafe { info.si_pid() } as u32;
            let Some(pos) = running.iter().position(|c| c.id() == pid) else {
                bail!("an unexpected child {pid} exited");
            };
            let (ok, rss, written, cpu) = reap(running.swap_remove(pos))?;
            failed |= !ok;
            m.cpu += cpu;
            m.max_rss_kib = m.max_rss_kib.max(rss);
            m.written_bytes += written;
        }
        m.wall = start.elapsed();
        if failed {
            // The work dir is removed on exit: the error carries the log's end.
            let text = std::fs::read_to_string(log).unwrap_or_default();
            let lines: Vec<&str> = text.lines().collect();
            bail!(
                "a measured command failed; {} ends:\n{}",
                log.display(),
                lines[lines.len().saturating_sub(20)..].join("\n")
            );
        }
        Ok(m)
    }

    // ---------------------------------------------------------------- latency

    /// The sandbox's proxy in front of `upstream` adding `delay` to every request (no faults; a
    /// token realm is served through the proxy too, so token requests pay the delay), counting
    /// body bytes both ways.
    struct DelayLine(Proxy);

    async fn delay_line(upstream: &str, delay: Duration) -> Result<DelayLine> {
        let upstream = format!("http://{}", upstream.trim_start_matches("http://"));
        let options = ProxyOptions {
            latency: delay,
            kinds: Vec::new(),
            ..ProxyOptions::default()
        };
        Ok(DelayLine(Proxy::start(&upstream, options).await?))
    }

    impl DelayLine {
        fn url(&self) -> String {
            self.0.url()
        }
        fn host(&self) -> String {
            self.0.host()
        }
        /// Body bytes (up, down) so far.
        fn bytes(&self) -> (u64, u64) {
            let stats = self.0.stats();
            (stats.bytes_up, stats.bytes_down)
        }
    }

    // ---------------------------------------------------------------- the tools

    /// `vetted apply --yes` of a policy mirroring `sources` (repository name -> source reference).
    fn vetted_apply(
        work: &Path,
        hub: &str,
        docker_io: &str,
        sources: &[(String, String)],
    ) -> Result<Command> {
        let path = write_policy(work, sources, &[TAG.to_string()])?;
        Ok(vetted_command(
            work,
            hub,
            docker_io,
            &["apply", "--yes"],
            &path,
        ))
    }

    /// Writes `work/vetted.toml`: `sources` (repository name -> source reference), each mirroring
    /// `tags`.
    fn write_policy(work: &Path, sources: &[(String, String)], tags: &[String]) -> Result<PathBuf> {
        let mut policy = String::from("org = \"acme\"\n");
        let tags = tags
            .iter()
            .map(|t| format!("\"{t}\""))
            .collect::<Vec<_>>()
            .join(", ");
        for (repo, from) in sources {
            policy.push_str(&format!(
                "\n[repositories.{repo}]\nmirror = {{ from = \"{from}\", tags = [{tags}] }}\n"
            ));
        }
        let path = work.join("vetted.toml");
        std::fs::write(&path, policy)?;
        Ok(path)
    }

    /// `vetted <args> --policy <policy>` as the owner, against the sandbox at `hub` with
    /// `docker_io` as docker.io.
    fn vetted_command(
        work: &Path,
        hub: &str,
        docker_io: &str,
        args: &[&str],
        policy: &Path,
    ) -> Command {
        let docker_config = work.join("docker-config");
        let _ = std::fs::create_dir_all(&docker_config);
        let mut cmd = Command::new(VETTED);
        cmd.args(["--color", "never"])
            .args(args)
            .arg("--policy")
            .arg(policy)
            .env("VETTED_HUB_URL", hub)
            .env("VETTED_DOCKER_IO_REGISTRY", docker_io)
            .env("DOCKERHUB_USERNAME", OWNER)
            .env("DOCKERHUB_TOKEN", OWNER_SECRET)
            .env("DOCKER_CONFIG", &docker_config)
            .env_remove("VETTED_REGISTRY_USERNAME")
            .env_remove("VETTED_REGISTRY_PASSWORD");
        cmd
    }

    /// `skopeo copy --all` of one image, as users run it.
    fn skopeo_copy(home: &Path, src: &str, dest: &str, src_creds: bool) -> Command {
        let mut cmd = Command::new("skopeo");
        cmd.env("HOME", home).args([
            "copy",
            "--all",
            // The generated layers are random bytes, not gzip: without this skopeo compresses them
            // (changing every digest), which it never does to real (already gzip) images.
            "--preserve-digests",
            "--src-tls-verify=false",
            "--dest-tls-verify=false",
        ]);
        if src_creds {
            cmd.args(["--src-creds", &format!("{OWNER}:{OWNER_SECRET}")]);
        } else {
            cmd.arg("--src-no-creds");
        }
        cmd.args(["--dest-creds", &format!("{OWNER}:{OWNER_SECRET}")])
            .arg(format!("docker://{src}"))
            .arg(format!("docker://{dest}"));
        cmd
    }

    /// skopeo's view of a manifest digest (the independent check of what vetted mirrored).
    fn skopeo_digest(image: &str) -> Result<String> {
        let out = Command::new("skopeo")
            .args([
                "inspect",
                "--raw",
                "--tls-verify=false",
                "--creds",
                &format!("{OWNER}:{OWNER_SECRET}"),
            ])
            .arg(format!("docker://{image}"))
            .stdin(Stdio::null())
            .output()?;
        if !out.status.success() {
            bail!(
                "skopeo inspect {image}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        Ok(generate::digest_of(&out.stdout))
    }

    fn check_mirrored(registry_host: &str, images: &[Image], prefix: &str) -> Result<()> {
        for image in images {
            let got = skopeo_digest(&format!(
                "{registry_host}/acme/{prefix}{}:{TAG}",
                image.name
            ))?;
            if got != image.top.digest {
                bail!(
                    "acme/{prefix}{} has {got}, not the source's {}",
                    image.name,
                    image.top.digest
                );
            }
        }
        Ok(())
    }

    // ---------------------------------------------------------------- report

    struct Row {
        scenario: String,
        tool: String,
        m: Measure,
        /// Body bytes through the latency proxies (up, down) when known.
        wire: Option<(u64, u64)>,
    }

    fn mib(b: u64) -> f64 {
        b as f64 / MIB as f64
    }

    fn print_row(r: &Row, reference: Option<(&str, Duration)>) {
        let ratio = reference
            .map(|(name, d)| format!("{:.2}x {name}", r.m.wall.as_secs_f64() / d.as_secs_f64()))
            .unwrap_or_default();
        let wire = r
            .wire
            .map(|(u, d)| format!("wire up {:.1} / down {:.1} MiB", mib(u), mib(d)))
            .unwrap_or_default();
        let rss = if r.m.max_rss_kib > 0 {
            format!("{:>7.1} MiB", r.m.max_rss_kib as f64 / 1024.0)
        } else {
            format!("{:>11}", "-")
        };
        println!(
            "  {:<28} {:<34} {:>8.2} s  cpu {:>6.2} s  rss {rss}  written {:>8.1} MiB  {ratio}  {wire}",
            r.scenario,
            r.tool,
            r.m.wall.as_secs_f64(),
            r.m.cpu.as_secs_f64(),
            mib(r.m.written_bytes),
        );
    }

    // ---------------------------------------------------------------- scenarios

    async fn bulk(root: &Path, quick: bool) -> Result<Vec<String>> {
        println!("== bulk{}", if quick { " (--quick)" } else { "" });
        let mut generator = Generator {
            dir: root.join("bulk-blobs"),
            made: BTreeMap::new(),
        };
        std::fs::create_dir_all(&generator.dir)?;
        let t = Instant::now();
        let images = bulk_images(&mut generator, quick)?;
        let unique = unique_blobs(&images);
        let largest = unique.iter().map(|b| b.size).max().unwrap_or(0);
        println!(
            "  {} images, {} unique blobs, {:.1} MiB unique ({:.1} MiB referenced), largest layer {:.1} MiB; generated in {:.1} s",
            images.len(),
            unique.len(),
            mib(total(&unique)),
            mib(images.iter().map(|i| total(&i.blobs)).sum()),
            mib(largest),
            t.elapsed().as_secs_f64()
        );
        let source = start_source(root).await?;
        let t = Instant::now();
        publish(
            &pusher(&format!("http://{}", source.host), None).await?,
            "bench",
            &images,
        )
        .await?;
        println!(
            "  source registry {} filled in {:.1} s",
            source.host,
            t.elapsed().as_secs_f64()
        );
        let login = Some(Login {
            user: OWNER.into(),
            secret: OWNER_SECRET.into(),
        });
        let mut rows = Vec::new();

        // The ceiling: the unique blobs uploaded straight from their files.
        let sbx = start_sandbox(root)?;
        let raw_pusher = pusher(&sbx.registry, login.clone()).await?;
        let t = Instant::now();
        raw_upload(&raw_pusher, "acme/raw", &unique).await?;
        let raw = Measure {
            wall: t.elapsed(),
            written_bytes: total(&unique),
            ..Measure::default()
        };
        rows.push(Row {
            scenario: "bulk".into(),
            tool: format!("raw parallel upload (x{PARALLELISM})"),
            m: raw,
            wire: None,
        });
        drop(sbx);

        // skopeo, one image at a time.
        let sbx = start_sandbox(root)?;
        let home = sbx.dir.path().join("home");
        std::fs::create_dir_all(&home)?;
        let cmds = images
            .iter()
            .map(|i| {
                skopeo_copy(
                    &home,
                    &format!("{}/bench/{}:{TAG}", source.host, i.name),
                    &format!("{}/acme/sk-{}:{TAG}", sbx.registry_host(), i.name),
                    false,
                )
            })
            .collect();
        let m = run_measured(cmds, 1, &sbx.dir.path().join("skopeo.log"))?;
        check_mirrored(sbx.registry_host(), &images, "sk-")?;
        rows.push(Row {
            scenario: "bulk".into(),
            tool: "skopeo copy --all, one by one".into(),
            m,
            wire: None,
        });
        drop(sbx);

        // skopeo, PARALLELISM at a time (xargs -P style).
        let sbx = start_sandbox(root)?;
        let home = sbx.dir.path().join("home");
        std::fs::create_dir_all(&home)?;
        let cmds = images
            .iter()
            .map(|i| {
                skopeo_copy(
                    &home,
                    &format!("{}/bench/{}:{TAG}", source.host, i.name),
                    &format!("{}/acme/sk-{}:{TAG}", sbx.registry_host(), i.name),
                    false,
                )
            })
            .collect();
        let m = run_measured(cmds, PARALLELISM, &sbx.dir.path().join("skopeo.log"))?;
        check_mirrored(sbx.registry_host(), &images, "sk-")?;
        rows.push(Row {
            scenario: "bulk".into(),
            tool: format!("skopeo copy --all, {PARALLELISM} at once"),
            m,
            wire: None,
        });
        drop(sbx);

        // vetted: one apply of all.
        let sbx = start_sandbox(root)?;
        let sources: Vec<(String, String)> = images
            .iter()
            .map(|i| (i.name.clone(), format!("{}/bench/{}", source.host, i.name)))
            .collect();
        let cmd = vetted_apply(sbx.dir.path(), &sbx.hub, &sbx.registry, &sources)?;
        let log = sbx.dir.path().join("vetted.log");
        let m = run_measured(vec![cmd], 1, &log)?;
        check_mirrored(sbx.registry_host(), &images, "")?;
        print_log_tail(&log, 3);
        rows.push(Row {
            scenario: "bulk".into(),
            tool: "vetted apply".into(),
            m,
            wire: None,
        });
        drop(sbx);

        let skopeo = rows[1].m.wall;
        let vetted = rows[3].m.wall;
        for r in &rows {
            print_row(r, Some(("of skopeo one by one", skopeo)));
        }
        let summary = vec![format!(
            "bulk: vetted {:.2} s, skopeo one by one {:.2} s ({:.2}x vetted's speed), skopeo x{PARALLELISM} {:.2} s, raw upload {:.2} s (vetted {:.2}x the raw time); peak RSS vetted {:.1} MiB, skopeo {:.1} MiB",
            vetted.as_secs_f64(),
            skopeo.as_secs_f64(),
            skopeo.as_secs_f64() / vetted.as_secs_f64(),
            rows[2].m.wall.as_secs_f64(),
            raw.wall.as_secs_f64(),
            vetted.as_secs_f64() / raw.wall.as_secs_f64(),
            rows[3].m.max_rss_kib as f64 / 1024.0,
            rows[1].m.max_rss_kib.max(rows[2].m.max_rss_kib) as f64 / 1024.0,
        )];
        Ok(summary)
    }

    fn print_log_tail(log: &Path, n: usize) {
        let text = std::fs::read_to_string(log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        for l in &lines[lines.len().saturating_sub(n)..] {
            println!("    | {l}");
        }
    }

    async fn latency(root: &Path, quick: bool) -> Result<Vec<String>> {
        let n = if quick { 10 } else { 50 };
        let delay = Duration::from_millis(20);
        println!(
            "== latency-bound{}: {n} images, +{} ms per request",
            if quick { " (--quick)" } else { "" },
            delay.as_millis()
        );
        let mut generator = Generator {
            dir: root.join("small-blobs"),
            made: BTreeMap::new(),
        };
        std::fs::create_dir_all(&generator.dir)?;
        let images = small_images(&mut generator, n)?;
        let source = start_source(root).await?;
        publish(
            &pusher(&format!("http://{}", source.host), None).await?,
            "bench",
            &images,
        )
        .await?;
        let src_line = delay_line(&source.host, delay).await?;
        let mut rows = Vec::new();

        // vetted: first mirror, then the no-op re-run, on one sandbox.
        let sbx = start_sandbox(root)?;
        let hub_line = delay_line(&sbx.hub, delay).await?;
        let reg_line = delay_line(&sbx.registry, delay).await?;
        let sources: Vec<(String, String)> = images
            .iter()
            .map(|i| {
                (
                    i.name.clone(),
                    format!("{}/bench/{}", src_line.host(), i.name),
                )
            })
            .collect();
        let log = sbx.dir.path().join("vetted.log");
        let before = (src_line.bytes(), reg_line.bytes());
        let m = run_measured(
            vec![vetted_apply(
                sbx.dir.path(),
                &hub_line.url(),
                &reg_line.url(),
                &sources,
            )?],
            1,
            &log,
        )?;
        check_mirrored(sbx.registry_host(), &images, "")?;
        print_log_tail(&log, 2);
        rows.push(Row {
            scenario: "first mirror".into(),
            tool: "vetted apply".into(),
            m,
            wire: Some(wire(before, (src_line.bytes(), reg_line.bytes()))),
        });
        let before = (src_line.bytes(), reg_line.bytes());
        let m = run_measured(
            vec![vetted_apply(
                sbx.dir.path(),
                &hub_line.url(),
                &reg_line.url(),
                &sources,
            )?],
            1,
            &log,
        )?;
        print_log_tail(&log, 2);
        rows.push(Row {
            scenario: "no-op re-run".into(),
            tool: "vetted apply".into(),
            m,
            wire: Some(wire(before, (src_line.bytes(), reg_line.bytes()))),
        });
        drop((hub_line, reg_line, sbx));

        // skopeo: one by one, then again (it has no no-op mode: users re-run the copies).
        let sbx = start_sandbox(root)?;
        let reg_line = delay_line(&sbx.registry, delay).await?;
        let home = sbx.dir.path().join("home");
        std::fs::create_dir_all(&home)?;
        let cmds = |sbx_host: &str| -> Vec<Command> {
            images
                .iter()
                .map(|i| {
                    skopeo_copy(
                        &home,
                        &format!("{}/bench/{}:{TAG}", src_line.host(), i.name),
                        &format!("{sbx_host}/acme/sk-{}:{TAG}", i.name),
                        false,
                    )
                })
                .collect()
        };
        let log = sbx.dir.path().join("skopeo.log");
        let before = (src_line.bytes(), reg_line.bytes());
        let m = run_measured(cmds(&reg_line.host()), 1, &log)?;
        check_mirrored(sbx.registry_host(), &images, "sk-")?;
        rows.push(Row {
            scenario: "first mirror".into(),
            tool: "skopeo copy --all, one by one".into(),
            m,
            wire: Some(wire(before, (src_line.bytes(), reg_line.bytes()))),
        });
        let before = (src_line.bytes(), reg_line.bytes());
        let m = run_measured(cmds(&reg_line.host()), 1, &log)?;
        rows.push(Row {
            scenario: "no-op re-run".into(),
            tool: "skopeo copy --all, one by one".into(),
            m,
            wire: Some(wire(before, (src_line.bytes(), reg_line.bytes()))),
        });
        drop((reg_line, sbx));

        // Same registry: community namespace -> org namespace of the sandbox registry (mounts).
        let sbx = start_sandbox(root)?;
        let publisher = Login {
            user: PUBLISHER.into(),
            secret: PUBLISHER_SECRET.into(),
        };
        publish(
            &pusher(&sbx.registry, Some(publisher)).await?,
            PUBLISHER,
            &images,
        )
        .await?;
        let hub_line = delay_line(&sbx.hub, delay).await?;
        let reg_line = delay_line(&sbx.registry, delay).await?;
        let home = sbx.dir.path().join("home");
        std::fs::create_dir_all(&home)?;
        let cmds: Vec<Command> = images
            .iter()
            .map(|i| {
                skopeo_copy(
                    &home,
                    &format!("{}/{PUBLISHER}/{}:{TAG}", reg_line.host(), i.name),
                    &format!("{}/acme/sk-{}:{TAG}", reg_line.host(), i.name),
                    true,
                )
            })
            .collect();
        let before = reg_line.bytes();
        let m = run_measured(cmds, 1, &sbx.dir.path().join("skopeo.log"))?;
        check_mirrored(sbx.registry_host(), &images, "sk-")?;
        rows.push(Row {
            scenario: "same registry".into(),
            tool: "skopeo copy --all, one by one".into(),
            m,
            wire: Some(sub(reg_line.bytes(), before)),
        });
        let sources: Vec<(String, String)> = images
            .iter()
            .map(|i| (i.name.clone(), format!("{PUBLISHER}/{}", i.name)))
            .collect();
        let log = sbx.dir.path().join("vetted.log");
        let before = reg_line.bytes();
        let m = run_measured(
            vec![vetted_apply(
                sbx.dir.path(),
                &hub_line.url(),
                &reg_line.url(),
                &sources,
            )?],
            1,
            &log,
        )?;
        check_mirrored(sbx.registry_host(), &images, "")?;
        print_log_tail(&log, 2);
        rows.push(Row {
            scenario: "same registry".into(),
            tool: "vetted apply".into(),
            m,
            wire: Some(sub(reg_line.bytes(), before)),
        });
        drop((hub_line, reg_line, sbx));

        let find = |scenario: &str, tool: &str| {
            rows.iter()
                .find(|r| r.scenario == scenario && r.tool.starts_with(tool))
                .map(|r| r.m)
                .unwrap_or_default()
        };
        let mut summary = Vec::new();
        for scenario in ["first mirror", "no-op re-run", "same registry"] {
            let skopeo = find(scenario, "skopeo");
            for r in rows.iter().filter(|r| r.scenario == scenario) {
                print_row(r, Some(("of skopeo", skopeo.wall)));
            }
            let vetted = find(scenario, "vetted");
            let (trips, why) = floor_trips(scenario);
            let floor = delay * trips;
            println!(
                "  {scenario}: round-trip floor {trips} x {} ms = {:.2} s with all {n} images in flight ({why})",
                delay.as_millis(),
                floor.as_secs_f64()
            );
            summary.push(format!(
                "latency {scenario} ({n} images): vetted {:.2} s, skopeo {:.2} s: vetted {:.1}x faster; floor {:.2} s (vetted at {:.1}x the floor); peak RSS vetted {:.1} MiB, skopeo {:.1} MiB",
                vetted.wall.as_secs_f64(),
                skopeo.wall.as_secs_f64(),
                skopeo.wall.as_secs_f64() / vetted.wall.as_secs_f64(),
                floor.as_secs_f64(),
                vetted.wall.as_secs_f64() / floor.as_secs_f64(),
                vetted.max_rss_kib as f64 / 1024.0,
                skopeo.max_rss_kib as f64 / 1024.0,
            ));
        }
        Ok(summary)
    }

    // ---------------------------------------------------------------- moonshot

    /// The sandbox's API budget counters (`GET /_sandbox/rate-limit`): (used, 429s sent).
    async fn hub_budget(hub: &str) -> Result<(u64, u64)> {
        let v: serde_json::Value =
            reqwest::get(format!("{}/_sandbox/rate-limit", hub.trim_end_matches('/')))
                .await?
                .json()
                .await?;
        Ok((
            v["used"].as_u64().unwrap_or(0),
            v["rate_limited"].as_u64().unwrap_or(0),
        ))
    }

    /// A fresh budget window of Docker Hub's size, starting at the next request.
    async fn reset_budget(hub: &str) -> Result<()> {
        let status = reqwest::Client::new()
            .put(format!("{}/_sandbox/rate-limit", hub.trim_end_matches('/')))
            .json(&json!({"limit": HUB_BUDGET, "window_secs": 60}))
            .send()
            .await?
            .status();
        if !status.is_success() {
            bail!("PUT /_sandbox/rate-limit answered {status}");
        }
        Ok(())
    }

    /// The moonshot: a no-op `vetted plan --locked` of `repos` x `tags` mirrored tags of Docker Hub
    /// sources (a community namespace of the sandbox), 50 ms added per request, under Docker Hub's
    /// 600-per-minute API budget, with the 429s the sandbox sent.
    async fn moonshot(root: &Path, quick: bool) -> Result<Vec<String>> {
        let (repos, tags) = if quick { (20, 50) } else { (100, 50) };
        let delay = Duration::from_millis(50);
        println!(
            "== moonshot{}: no-op plan of {repos} repositories x {tags} tags = {} mirrored tags, +{} ms per request, API budget {HUB_BUDGET} per minute",
            if quick { " (--quick)" } else { "" },
            repos * tags,
            delay.as_millis()
        );
        let mut generator = Generator {
            dir: root.join("moon-blobs"),
            made: BTreeMap::new(),
        };
        std::fs::create_dir_all(&generator.dir)?;
        let images: Vec<Image> = (0..repos)
            .map(|i| generator.image(&format!("img{i}"), &[(format!("moon-{i}"), 4096)]))
            .collect::<Result<_>>()?;
        let tag_names: Vec<String> = (0..tags).map(|t| format!("1.{t}")).collect();
        let sbx = start_sandbox_with(root, HUB_BUDGET)?;
        let t = Instant::now();
        let publisher = pusher(
            &sbx.registry,
            Some(Login {
                user: PUBLISHER.into(),
                secret: PUBLISHER_SECRET.into(),
            }),
        )
        .await?;
        let pushed: Vec<Result<()>> = futures::stream::iter(&images)
            .map(|image| {
                let publisher = &publisher;
                let tag_names = &tag_names;
                async move {
                    let repo = format!("{PUBLISHER}/{}", image.name);
                    for b in &image.blobs {
                        publisher.upload_file(&repo, b).await?;
                    }
                    for tag in tag_names {
                        publisher.push_manifest(&repo, tag, &image.top).await?;
                    }
                    Ok(())
                }
            })
            .buffer_unordered(PARALLELISM)
            .collect()
            .await;
        pushed.into_iter().collect::<Result<()>>()?;
        let sources: Vec<(String, String)> = images
            .iter()
            .map(|i| (i.name.clone(), format!("{PUBLISHER}/{}", i.name)))
            .collect();
        let work = sbx.dir.path();
        let policy = write_policy(work, &sources, &tag_names)?;
        let log = work.join("vetted.log");
        // Mirror everything and lock it, without added latency (setup, not measured).
        for args in [&["lock"][..], &["apply", "--yes", "--locked"][..]] {
            reset_budget(&sbx.hub).await?;
            run_measured(
                vec![vetted_command(work, &sbx.hub, &sbx.registry, args, &policy)],
                1,
                &log,
            )?;
        }
        println!(
            "  {} tags published, mirrored and locked in {:.1} s (setup)",
            repos * tags,
            t.elapsed().as_secs_f64()
        );

        let hub_line = delay_line(&sbx.hub, delay).await?;
        let reg_line = delay_line(&sbx.registry, delay).await?;
        reset_budget(&sbx.hub).await?;
        let (used_before, limited_before) = hub_budget(&sbx.hub).await?;
        let mut cmd = vetted_command(
            work,
            &hub_line.url(),
            &reg_line.url(),
            &["-v", "plan", "--locked", "--detailed-exitcode"],
            &policy,
        );
        cmd.env("RUST_LOG", "warn");
        let plan_log = work.join("plan.log");
        let m = run_measured(vec![cmd], 1, &plan_log)?;
        let (used, limited) = hub_budget(&sbx.hub).await?;
        let calls = used.saturating_sub(used_before);
        let limited = limited.saturating_sub(limited_before);
        let text = std::fs::read_to_string(&plan_log).unwrap_or_default();
        for l in text
            .lines()
            .filter(|l| l.contains("call") || l.contains("No changes"))
            .take(30)
        {
            println!("    | {l}");
        }
        // Dependent round trips of a no-op plan: the hub login, the organization's reads (the
        // repository listing, then the reads it starts), one tag listing page per repository and
        // per source (all in flight at once): about 5.
        let floor = delay * 5;
        let row = Row {
            scenario: "moonshot no-op plan".into(),
            tool: "vetted -v plan --locked".into(),
            m,
            wire: Some(hub_line.bytes()),
        };
        print_row(&row, None);
        let summary = vec![format!(
            "moonshot: no-op plan of {} mirrored tags at +{} ms per request: vetted {:.2} s (target < 30 s; before: 70.9 s, a HEAD per tag on each side), {calls} hub API call(s) under a {HUB_BUDGET}-per-minute budget, {limited} 429(s) received; floor about {:.2} s (5 dependent round trips); peak RSS {:.1} MiB",
            repos * tags,
            delay.as_millis(),
            m.wall.as_secs_f64(),
            floor.as_secs_f64(),
            m.max_rss_kib as f64 / 1024.0,
        )];
        if limited > 0 {
            bail!(
                "the moonshot plan received {limited} 429(s); {}",
                summary[0]
            );
        }
        drop((hub_line, reg_line, sbx));
        Ok(summary)
    }

    /// The dependent round trips of one image in each latency-bound scenario, counted along
    /// vetted's request path (each waits for the one before; everything else overlaps when all
    /// images are in flight), and what they are.
    fn floor_trips(scenario: &str) -> (u32, &'static str) {
        match scenario {
            "first mirror" => (
                14,
                "plan: hub login, organization reads 2, source tag HEAD, estimate manifest GET; \
                 apply: repository POST, push token, source manifest GET with the target HEADs, \
                 blob HEAD, upload POST, blob GET, blob PUT, manifest PUT, tag PUT",
            ),
            "no-op re-run" => (
                5,
                "hub login, organization reads 2, the repository's tag listing, source tag HEAD",
            ),
            _ => (
                13,
                "plan: hub login, organization reads 2, pull token, source tag HEAD, estimate \
                 manifest GET; apply: repository POST, push token, source manifest GET with the \
                 target HEADs, blob HEAD, mount POST, manifest PUT, tag PUT",
            ),
        }
    }

    fn sub(after: (u64, u64), before: (u64, u64)) -> (u64, u64) {
        (after.0 - before.0, after.1 - before.1)
    }

    /// Bytes through the source and target delay lines between two snapshots.
    fn wire(before: ((u64, u64), (u64, u64)), after: ((u64, u64), (u64, u64))) -> (u64, u64) {
        let s = sub(after.0, before.0);
        let t = sub(after.1, before.1);
        (s.0 + t.0, s.1 + t.1)
    }

    pub async fn main() -> Result<()> {
        let args: Vec<String> = std::env::args().skip(1).collect();
        let quick = args.iter().any(|a| a == "--quick");
        // cargo bench passes --bench; other flags are ours.
        let scenario = args
            .iter()
            .find(|a| !a.starts_with("--"))
            .map(String::as_str)
            .unwrap_or("all");
        if !matches!(scenario, "bulk" | "latency" | "moonshot" | "all") {
            bail!(
                "unknown scenario {scenario:?}: use bulk, latency, moonshot or all (and --quick for a smoke run)"
            );
        }
        for tool in [REGISTRY_BIN, "/usr/bin/skopeo"] {
            if !Path::new(tool).is_file() {
                bail!("{tool} is missing: run scripts/install-deps.sh");
            }
        }
        let root = tempfile::Builder::new().prefix("vetted-bench").tempdir()?;
        println!("vetted {VETTED}\nwork dir {}", root.path().display());
        let mut summary = Vec::new();
        if matches!(scenario, "bulk" | "all") {
            summary.extend(bulk(root.path(), quick).await?);
        }
        if matches!(scenario, "latency" | "all") {
            summary.extend(latency(root.path(), quick).await?);
        }
        if matches!(scenario, "moonshot" | "all") {
            summary.extend(moonshot(root.path(), quick).await?);
        }
        println!("== summary");
        for line in summary {
            println!("  {line}");
        }
        Ok(())
    }
}
