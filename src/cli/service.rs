//! `cisgate service` (Windows): `cisgate serve` as a Windows service, started and stopped
//! by the Service Control Manager. The MSI registers it as `cisgate` (display name
//! "cisgate store server"), run as LocalService with the arguments `service`.
//!
//! Everything lives in the data folder (`%ProgramData%\cisgate` unless `--data`), laid
//! out as the Debian package lays out /etc/cisgate and /var/lib/cisgate:
//! - `cisgate.env`: the settings, the same `NAME=value` lines as `/etc/default/cisgate`
//!   (`CISGATE_SERVE_ARGS`, `CISGATE_PULL_FROM`, `CISGATE_NATS`, `AWS_*`, ...);
//! - `serve.json`: serve's configuration (users, tokens; loopback only by default);
//! - `publisher.pub`: the chain's public key, when the store follows a channel;
//! - `index\`: the index and the sold journal;
//! - `log\cisgate.log`: what the service says, rotated at 10 MiB, 5 old files kept.
//!
//! As the Debian unit's conditions do, a service with neither an index nor a channel to
//! follow stops at once with success, saying so in its log: installing does not start a
//! server with nothing to serve. A failure stops the service with a service-specific exit
//! code (2, or 130 when interrupted), which Windows records in the System event log
//! (event 7024); the reason is the log's last lines.

use std::ffi::OsString;
use std::io::Write;
use std::path::PathBuf;
use std::sync::Mutex;
use std::time::Duration;

use clap::Parser;
use windows_service::service::{
    ServiceControl, ServiceControlAccept, ServiceExitCode, ServiceState, ServiceStatus, ServiceType,
};
use windows_service::service_control_handler::{self, ServiceControlHandlerResult};
use windows_service::{define_windows_service, service_dispatcher};

use super::logfile::LogFile;
use super::{CmdResult, envfile};

/// The service's name in the Service Control Manager (`net start cisgate`).
pub const SERVICE_NAME: &str = "cisgate";

/// Run as the Windows service (started by the Service Control Manager, not by hand: in a
/// console, run `cisgate serve`).
#[derive(clap::Args, Debug)]
pub struct Args {
    /// The data folder: cisgate.env, serve.json, index\, log\ (default
    /// %ProgramData%\cisgate).
    #[arg(long)]
    data: Option<PathBuf>,
}

/// The data folder, for the service's main function (the dispatcher gives it no
/// arguments of ours).
static DATA: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();

/// Hands the process to the Service Control Manager; returns when the service stopped.
pub fn run(args: Args) -> CmdResult {
    // The MSI passes `--data "C:\ProgramData\cisgate\."` (a quoted path cannot end in a
    // backslash); the components drop the dot.
    let data: PathBuf = args
        .data
        .unwrap_or_else(default_data)
        .components()
        .collect();
    let _ = DATA.set(data);
    match service_dispatcher::start(SERVICE_NAME, ffi_service_main) {
        Ok(()) => Ok(0),
        // ERROR_FAILED_SERVICE_CONTROLLER_CONNECT: started from a console.
        Err(windows_service::Error::Winapi(e)) if e.raw_os_error() == Some(1063) => Err(
            "`cisgate service` is started by the Service Control Manager (net start cisgate); \
             in a console, run `cisgate serve`"
                .into(),
        ),
        Err(e) => Err(e.into()),
    }
}

/// `%ProgramData%\cisgate`.
fn default_data() -> PathBuf {
    std::env::var_os("ProgramData")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(r"C:\ProgramData"))
        .join("cisgate")
}

define_windows_service!(ffi_service_main, service_main);

/// The service: logs to its file, reports Running, serves until the SCM says stop, then
/// reports Stopped with the outcome.
fn service_main(_arguments: Vec<OsString>) {
    let data = DATA.get().cloned().unwrap_or_else(default_data);
    let log_ok = redirect_stderr_to_log(&data).is_ok();
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let stop_tx = Mutex::new(Some(stop_tx));
    let handler = move |control| match control {
        ServiceControl::Stop | ServiceControl::Shutdown | ServiceControl::Preshutdown => {
            if let Some(tx) = stop_tx.lock().ok().and_then(|mut tx| tx.take()) {
                let _ = tx.send(());
            }
            ServiceControlHandlerResult::NoError
        }
        ServiceControl::Interrogate => ServiceControlHandlerResult::NoError,
        _ => ServiceControlHandlerResult::NotImplemented,
    };
    let status = match service_control_handler::register(SERVICE_NAME, handler) {
        Ok(status) => status,
        Err(e) => {
            say(&format!(
                "cannot register with the Service Control Manager: {e}"
            ));
            return;
        }
    };
    let report = |state: ServiceState, accept: ServiceControlAccept, exit: ServiceExitCode| {
        let _ = status.set_service_status(ServiceStatus {
            service_type: ServiceType::OWN_PROCESS,
            current_state: state,
            controls_accepted: accept,
            exit_code: exit,
            checkpoint: 0,
            wait_hint: Duration::from_secs(if state == ServiceState::StopPending {
                30
            } else {
                0
            }),
            process_id: None,
        });
    };
    report(
        ServiceState::Running,
        ServiceControlAccept::STOP | ServiceControlAccept::SHUTDOWN,
        ServiceExitCode::Win32(0),
    );
    if !log_ok {
        say("cannot open the log file; logging nowhere");
    }
    say(&format!("starting; data folder {}", data.display()));
    let exit = match serve_configured(&data, stop_rx) {
        Ok(0) => ServiceExitCode::Win32(0),
        Ok(code) => ServiceExitCode::ServiceSpecific(code as u32),
        Err(e) => {
            say(&format!("error: {e}"));
            ServiceExitCode::ServiceSpecific(u32::from(super::exit_code(e.as_ref())))
        }
    };
    say("stopped");
    report(ServiceState::Stopped, ServiceControlAccept::empty(), exit);
}

/// `cisgate serve` as the data folder configures it, until `stop`.
fn serve_configured(data: &std::path::Path, stop: tokio::sync::oneshot::Receiver<()>) -> CmdResult {
    let env_file = data.join("cisgate.env");
    let settings = if env_file.exists() {
        envfile::read(&env_file)?
    } else {
        Vec::new()
    };
    let key = data.join("publisher.pub");
    for setting in &settings {
        // SAFETY: set before serve starts its threads; the only other threads are the
        // service dispatcher's, which read no environment variables.
        unsafe { std::env::set_var(&setting.name, &setting.value) };
    }
    if std::env::var_os("CISGATE_PUBLIC_KEY").is_none() && key.exists() {
        // SAFETY: as above.
        unsafe { std::env::set_var("CISGATE_PUBLIC_KEY", &key) };
    }
    let index = data.join("index");
    let follows = std::env::var("CISGATE_PULL_FROM").is_ok_and(|v| !v.trim().is_empty());
    if !index.join(cisgate::index::CURRENT).exists() && !follows {
        say(&format!(
            "nothing to serve yet: no index in {} and no CISGATE_PULL_FROM in {}; stopping \
             (build or copy an index there, or set the channel, then start the service)",
            index.display(),
            env_file.display()
        ));
        return Ok(0);
    }
    let extra = std::env::var("CISGATE_SERVE_ARGS").unwrap_or_default();
    let line = settings
        .iter()
        .rfind(|s| s.name == "CISGATE_SERVE_ARGS")
        .map_or(0, |s| s.line);
    let extra = envfile::split_arguments(&extra).ok_or_else(|| {
        format!(
            "{}:{line}: CISGATE_SERVE_ARGS: a quote is never closed",
            env_file.display()
        )
    })?;
    let mut argv: Vec<OsString> = vec![
        "cisgate serve".into(),
        "--index".into(),
        index.into(),
        "--config".into(),
        data.join("serve.json").into(),
    ];
    argv.extend(extra.into_iter().map(OsString::from));
    let command = ServeCommand::try_parse_from(argv).map_err(|e| {
        format!(
            "{}:{line}: CISGATE_SERVE_ARGS: {}",
            env_file.display(),
            e.to_string().trim()
        )
    })?;
    super::serve::run_until(command.args, async move {
        let _ = stop.await;
    })
}

/// `cisgate serve`'s arguments, parsed from the settings.
#[derive(Parser)]
#[command(name = "cisgate serve")]
struct ServeCommand {
    #[command(flatten)]
    args: super::serve::Args,
}

/// Writes one line, with its time, to the log (standard error).
fn say(message: &str) {
    let line = format!(
        "{} cisgate service: {message}\n",
        cisgate::time::format_rfc3339(cisgate::time::now_ms())
    );
    let _ = std::io::stderr().write_all(line.as_bytes());
}

/// Points standard error at the log file, and rotates it every minute when it is full.
fn redirect_stderr_to_log(data: &std::path::Path) -> std::io::Result<()> {
    let log = LogFile::new(&data.join("log"), "cisgate.log")?;
    // A full log left by the last run is rotated now; the file it opens is not needed.
    log.rotate_if_full()?;
    let mut current = log.open()?;
    set_stderr(&current)?;
    std::thread::Builder::new()
        .name("cisgate-log".into())
        .spawn(move || {
            loop {
                std::thread::sleep(Duration::from_secs(60));
                if let Ok(Some(file)) = log.rotate_if_full()
                    && set_stderr(&file).is_ok()
                {
                    // A writer may still be in the middle of a line on the old handle:
                    // it is closed a second later.
                    let old = std::mem::replace(&mut current, file);
                    std::thread::sleep(Duration::from_secs(1));
                    drop(old);
                }
            }
        })?;
    Ok(())
}

/// Makes `file` the process's standard error (Rust's `eprintln!` asks for the handle on
/// every write, so this takes effect at once).
fn set_stderr(file: &std::fs::File) -> std::io::Result<()> {
    use std::os::windows::io::AsRawHandle;
    use windows_sys::Win32::System::Console::{STD_ERROR_HANDLE, SetStdHandle};
    // SAFETY: the handle is a valid, open file handle owned by `file`, which the caller
    // keeps open for as long as it is standard error.
    let ok = unsafe { SetStdHandle(STD_ERROR_HANDLE, file.as_raw_handle() as _) };
    if ok == 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
}
