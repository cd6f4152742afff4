#[test]
fn config_reference_explore() {
    for t in [
        "zz_not_a_key = 1\n",
        "[jobs]\nzz_not_a_key = 1\n",
        "[store]\nzz_not_a_key = 1\n",
        "[harness.x]\nkind = \"scripted\"\nzz_not_a_key = 1\n",
        "[harness.x]\nkind = \"zz_not_a_key\"\n",
        "[harness.x]\nkind = \"claude\"\nzz_not_a_key = 1\n",
        "[harness.x]\nkind = \"claude\"\nenv = { zz_not_a_key = 1 }\n",
        "[model.agent_keys.x]\nzz_not_a_key = 1\n",
        "[model]\nagent_keys = { zz_not_a_key = 1 }\n",
        "[model]\nprices = { zz_not_a_key = 1 }\n",
        "[model]\nanthropic = { zz_not_a_key = 1 }\n",
        "harness = { zz_not_a_key = 1 }\n",
        "mcp = { zz_not_a_key = 1 }\n",
        "forge = { zz_not_a_key = 1 }\n",
        "[git]\nidentities = { zz_not_a_key = 1 }\n",
        "[sandbox]\nruntimes = { zz_not_a_key = 1 }\n",
        "[sandbox]\ndefaults = { zz_not_a_key = 1 }\n",
        "[ops]\nlisten = { zz_not_a_key = 1 }\n",
        "[slack]\nlimits = { zz_not_a_key = 1 }\n",
        "[overlap]\nsynonyms = { zz_not_a_key = 1 }\n",
        "[nope]\nzz_not_a_key = 1\n",
        "[jobs.nope]\nzz_not_a_key = 1\n",
        "[forge.x]\nzz_not_a_key = 1\n",
    ] {
        match threadwork::config::Config::parse("t.toml", t) {
            Ok(_) => println!("=== {t:?}\nOK"),
            Err(e) => println!("=== {t:?}\n{e}"),
        }
    }
}
