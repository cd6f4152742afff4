#[test]
fn config_reference_explore() {
    for t in [
        "[sandbox.defaults]\nmemory_mb = 2048\n",
        "[sandbox.max]\ncpus = 2.0\nmemory_mb = 4096\npids = 1024\ntmp_mb = 1024\n",
        "[slack]\ntransport = \"zz\"\n",
        "[harness.x]\nkind = \"command\"\nprogram = \"x\"\nmode = \"zz\"\n",
        "[overlap]\nmode = \"zz\"\n",
        "[sandbox]\nnetwork = \"zz\"\nruntime = \"docker\"\n",
        "[slack.limits]\nzz_not_a_key = 1\n",
    ] {
        match threadwork::config::Config::parse("t.toml", t) {
            Ok(c) => println!("=== {t:?}\nOK {:?}", c.sandbox.max),
            Err(e) => println!("=== {t:?}\n{e}"),
        }
    }
}
