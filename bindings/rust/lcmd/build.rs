//! lcmd-sys found liblcmd (`links = "lcmd"` passes its directory here as
//! DEP_LCMD_LIB_DIR): give this crate's tests and examples an rpath to it, so that they
//! run without LD_LIBRARY_PATH.
fn main() {
    println!("cargo:rerun-if-env-changed=DEP_LCMD_LIB_DIR");
    if let Ok(dir) = std::env::var("DEP_LCMD_LIB_DIR") {
        if !dir.is_empty() {
            println!("cargo:rustc-link-arg=-Wl,-rpath,{}", dir);
        }
    }
}
