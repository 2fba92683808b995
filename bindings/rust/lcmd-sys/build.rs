//! Finds liblcmd: `LCMD_LIB_DIR` (a directory holding liblcmd.so, e.g. a meson build
//! tree's `lib/`), else `pkg-config --libs-only-L lcmd`, else the linker's default path.
use std::env;
use std::process::Command;

fn pkg_config_dirs() -> Vec<String> {
    let out = match Command::new("pkg-config").args(["--libs-only-L", "lcmd"]).output() {
        Ok(out) if out.status.success() => out,
        _ => return Vec::new(),
    };
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .filter_map(|flag| flag.strip_prefix("-L"))
        .map(str::to_owned)
        .collect()
}

fn main() {
    println!("cargo:rerun-if-env-changed=LCMD_LIB_DIR");
    println!("cargo:rerun-if-env-changed=PKG_CONFIG_PATH");
    let dirs = match env::var("LCMD_LIB_DIR") {
        Ok(dir) if !dir.is_empty() => vec![dir],
        _ => pkg_config_dirs(),
    };
    for dir in &dirs {
        println!("cargo:rustc-link-search=native={}", dir);
    }
    // `links = "lcmd"`: dependents read this as DEP_LCMD_LIB_DIR (to add an rpath).
    if let Some(dir) = dirs.first() {
        println!("cargo:lib_dir={}", dir);
        println!("cargo:rustc-link-arg=-Wl,-rpath,{}", dir);
    }
    println!("cargo:rustc-link-lib=dylib=lcmd");
}
