fn main() {
    link_code_in_start_up_order();
    tauri_build::build()
}

/// In release-like builds (the `till` profile) for x86-64 Linux, where rustc links with lld:
/// - lays the code the till runs while starting up out together (`till.order`, made by
///   `scripts/order-till`), so the pages faulted in at start-up, and the 64 KB the kernel maps
///   around each, hold little else: about 2 MB less resident;
/// - packs the relative relocations (DT_RELR, glibc 2.36+): the loader reads 3 KB of
///   relocations at start instead of 270 KB.
fn link_code_in_start_up_order() {
    println!("cargo:rerun-if-changed=till.order");
    let var = |name: &str| std::env::var(name).unwrap_or_default();
    let lld_target = var("CARGO_CFG_TARGET_ARCH") == "x86_64"
        && var("CARGO_CFG_TARGET_OS") == "linux"
        && var("CARGO_CFG_TARGET_ENV") == "gnu";
    if var("PROFILE") != "release" || !lld_target {
        return;
    }
    let order = std::path::Path::new(&var("CARGO_MANIFEST_DIR")).join("till.order");
    if order.is_file() {
        println!(
            "cargo:rustc-link-arg-bin=omnitill=-Wl,--symbol-ordering-file={}",
            order.display()
        );
        // Functions named in an order file made from an older build may be gone.
        println!("cargo:rustc-link-arg-bin=omnitill=-Wl,--no-warn-symbol-ordering");
    }
    println!("cargo:rustc-link-arg-bin=omnitill=-Wl,-z,pack-relative-relocs");
}
