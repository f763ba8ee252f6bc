//! Environment overrides (`SWITCHYARD__SECTION__KEY`) for the stable setting names. One test in
//! its own binary: the process environment is shared by every test of a binary.
use switchyard::settings::{Settings, StoreBackend};

#[test]
fn environment_variables_override_the_file_and_bad_ones_name_the_key() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("settings.toml");
    let vars = [
        ("SWITCHYARD__SERVER__HOST", "0.0.0.0"),
        ("SWITCHYARD__SERVER__PORT", "4321"),
        ("SWITCHYARD__STORE__BACKEND", "redis"),
        ("SWITCHYARD__STORE__DATA_DIR", "/var/lib/sy"),
        ("SWITCHYARD__STORE__REDIS_URL", "redis://10.0.0.5:6380"),
        ("SWITCHYARD__ADMIN__TOKEN", "from-env"),
        ("SWITCHYARD__ACTORS__CLAUDE__MAILBOX_CAPACITY", "77"),
    ];
    // `set_var` is unsafe with concurrent readers; this binary has this one test, so no other
    // thread reads the environment meanwhile.
    for (k, v) in vars {
        unsafe { std::env::set_var(k, v) };
    }
    let s = Settings::load(Some(&path)).unwrap();
    assert_eq!((s.server.host.as_str(), s.server.port), ("0.0.0.0", 4321));
    assert_eq!(s.store.backend, StoreBackend::Redis);
    assert_eq!(s.store.data_dir, std::path::PathBuf::from("/var/lib/sy"));
    assert_eq!(s.store.redis_url, "redis://10.0.0.5:6380");
    assert_eq!(s.admin.token, "from-env");
    assert_eq!(s.actors.claude.mailbox_capacity, 77);
    unsafe { std::env::set_var("SWITCHYARD__SERVER__PORT", "not-a-port") };
    let err = Settings::load(Some(&path)).unwrap_err().to_string();
    assert!(err.contains("server.port"), "{err}");
    for (k, _) in vars {
        unsafe { std::env::remove_var(k) };
    }
}
