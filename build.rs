//! Link-time set-up so that every artefact finds libtorch without `LD_LIBRARY_PATH`.
//!
//! torch-sys tells dependants where libtorch lives through `DEP_TCH_LIBTORCH_LIB`
//! (it declares `links = "tch"`). We turn that into:
//! * an rpath, so the binary, tests, examples and doc tests load `libtorch*.so` from
//!   the wheel directly;
//! * `--no-as-needed -ltorch`, so that `libtorch.so` (which pulls in `libtorch_cuda.so`)
//!   stays in the dynamic section even though no symbol of it is referenced directly.
//!   Without it the linker drops it and CUDA is never seen on a GPU machine.
//!
//! Cargo applies these to this package's own targets only. An evcxr notebook cell is
//! a cdylib of *another* package that depends on this one, so no build script of ours
//! can give it an rpath (cargo ignores `rustc-cdylib-link-arg` from a package without
//! a cdylib target, with a warning); the notebook kernel finds libtorch through the
//! environment `make notebook` / `make test` give it instead (see the Makefile).
//!
//! It also records the libtorch directory and version for `smalldata info`.
use std::path::Path;

fn main() {
    println!("cargo:rerun-if-env-changed=DEP_TCH_LIBTORCH_LIB");
    let lib = std::env::var("DEP_TCH_LIBTORCH_LIB").unwrap_or_default();
    let version = torch_version(Path::new(&lib)).unwrap_or_else(|| "unknown".into());
    println!("cargo:rustc-env=SMALLDATA_LIBTORCH_DIR={lib}");
    println!("cargo:rustc-env=SMALLDATA_LIBTORCH_VERSION={version}");
    if lib.is_empty() {
        println!("cargo:warning=DEP_TCH_LIBTORCH_LIB not set; no rpath added for libtorch");
        return;
    }
    let args = [format!("-Wl,-rpath,{lib}"), "-Wl,--no-as-needed".into(), format!("-L{lib}"), "-ltorch".into()];
    for arg in &args {
        println!("cargo:rustc-link-arg={arg}");
    }
}

/// `__version__` from the wheel's `torch/version.py` (libtorch is `torch/lib`).
fn torch_version(lib: &Path) -> Option<String> {
    let text = std::fs::read_to_string(lib.parent()?.join("version.py")).ok()?;
    let line = text.lines().find(|l| l.starts_with("__version__"))?;
    Some(line.split(['\'', '"']).nth(1)?.to_string())
}
