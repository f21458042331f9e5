//! Writes serve's OpenAPI document, as [`provisioning_serve::openapi`]
//! derives it, to the file the repository keeps (`host/cli/openapi.json`)
//! or to the path given: `cargo run -p provisioning-serve --example
//! openapi [PATH]`. A test fails while the kept file differs.

fn main() -> std::io::Result<()> {
    let path = std::env::args_os()
        .nth(1)
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| provisioning_serve::OPENAPI_PATH.into());
    std::fs::write(&path, provisioning_serve::openapi_json())?;
    println!("wrote {}", path.display());
    Ok(())
}
