//! The `smallpond` binary: the command line of [`smallpond_cli::run`], whose worker
//! processes are this executable.

use std::process::ExitCode;

use smallpond_cli::WorkerCommand;

fn main() -> ExitCode {
    let worker = match std::env::current_exe() {
        Ok(program) => WorkerCommand {
            program,
            args: vec![],
            env: vec![],
        },
        Err(e) => {
            eprintln!("error: locating the smallpond executable: {e}");
            return ExitCode::FAILURE;
        }
    };
    let status = smallpond_cli::run(std::env::args_os(), worker);
    ExitCode::from(u8::try_from(status).unwrap_or(1))
}
