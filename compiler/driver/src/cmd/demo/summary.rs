//! The one-line build summary `tessera demo` prints, read from the build's `report.json`: the MMA
//! instruction family, TMA use, registers and spills, and how dequantization was handled.

use serde_json::Value;

/// `mma wgmma...e4m3.e4m3 x4 | TMA: 4 bulk tensor loads | 255 registers, spills 200 B | dequant: ...`.
/// Falls back to the text report's lines when the JSON is missing or unreadable.
pub fn build_line(report_json: Option<&str>, report_text: &str) -> String {
    match report_json.and_then(|j| serde_json::from_str::<Value>(j).ok()) {
        Some(v) => from_json(&v),
        None => from_text(report_text),
    }
}

fn from_json(v: &Value) -> String {
    let b = &v["backend"];
    let mma = match b["scan"]["mma"].as_object() {
        Some(m) if !m.is_empty() => m
            .iter()
            .map(|(instr, n)| format!("{instr} x{}", n.as_u64().unwrap_or(0)))
            .collect::<Vec<_>>()
            .join(", "),
        _ => b["expected_mma"]
            .as_str()
            .map_or("none found".to_string(), |s| format!("{s} (expected)")),
    };
    let tma = match b["scan"]["tma_loads"].as_u64() {
        Some(0) | None => "no".to_string(),
        Some(n) => format!("{n} bulk tensor loads"),
    };
    let regs = match (b["ptxas"].as_object(), b["ptxas_skipped"].as_str()) {
        (Some(p), _) => {
            let n = |k: &str| p.get(k).and_then(Value::as_u64).unwrap_or(0);
            let spills = n("spill_stores_bytes") + n("spill_loads_bytes");
            if spills == 0 {
                format!("{} registers, no spills", n("registers"))
            } else {
                format!(
                    "{} registers, spills {} B stores / {} B loads",
                    n("registers"),
                    n("spill_stores_bytes"),
                    n("spill_loads_bytes")
                )
            }
        }
        (None, Some(why)) => format!("ptxas skipped ({why})"),
        (None, None) => "registers unknown (no ptxas report)".to_string(),
    };
    let dequant = v["dequant"]
        .as_array()
        .and_then(|d| d.first())
        .and_then(|d| d["text"].as_str())
        .unwrap_or("dequant: none (no scaled operands)");
    format!("mma {mma} | TMA: {tma} | {regs} | {dequant}")
}

/// The summary table's short form: `wgmma m64n128k32 e4m3.e4m3 x4, TMA, 217 regs, no spills`.
pub fn build_note(report_json: Option<&str>) -> String {
    let Some(v) = report_json.and_then(|j| serde_json::from_str::<Value>(j).ok()) else {
        return "see the build line above".to_string();
    };
    let b = &v["backend"];
    let mut parts = Vec::new();
    if let Some(m) = b["scan"]["mma"].as_object() {
        for (instr, n) in m {
            // `wgmma.mma_async.sync.aligned.m64n128k32.f32.e4m3.e4m3`: family, shape, operand types.
            let f: Vec<&str> = instr.split('.').collect();
            let family = f.first().copied().unwrap_or_default();
            let shape = f
                .iter()
                .find(|p| p.starts_with('m') && p.contains('n') && p.contains('k'));
            let types = f
                .iter()
                .rev()
                .take(2)
                .rev()
                .copied()
                .collect::<Vec<_>>()
                .join(".");
            parts.push(format!(
                "{family} {}{types} x{}",
                shape.map_or(String::new(), |s| format!("{s} ")),
                n.as_u64().unwrap_or(0)
            ));
        }
    }
    if b["scan"]["tma_loads"].as_u64().is_some_and(|n| n > 0) {
        parts.push("TMA".into());
    }
    if let Some(p) = b["ptxas"].as_object() {
        let n = |k: &str| p.get(k).and_then(Value::as_u64).unwrap_or(0);
        let spills = n("spill_stores_bytes") + n("spill_loads_bytes");
        parts.push(format!("{} regs", n("registers")));
        parts.push(if spills == 0 {
            "no spills".into()
        } else {
            format!("{spills} B spilled")
        });
    }
    parts.join(", ")
}

fn from_text(text: &str) -> String {
    let keep = ["mma:", "tma:", "ptxas:", "dequant:"];
    let lines: Vec<&str> = text
        .lines()
        .filter(|l| keep.iter().any(|k| l.starts_with(k)))
        .collect();
    if lines.is_empty() {
        "no build report".to_string()
    } else {
        lines.join(" | ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_report_gives_every_field() {
        let j = r#"{"backend": {"scan": {"mma": {"wgmma.x.e4m3": 4}, "tma_loads": 4},
            "ptxas": {"registers": 168, "spill_stores_bytes": 0, "spill_loads_bytes": 0},
            "ptxas_skipped": null},
            "dequant": [{"text": "dequant: fused (how)"}]}"#;
        assert_eq!(
            build_line(Some(j), ""),
            "mma wgmma.x.e4m3 x4 | TMA: 4 bulk tensor loads | 168 registers, no spills | dequant: fused (how)"
        );
        let j = r#"{"backend": {"scan": {"mma": {}, "tma_loads": 0}, "expected_mma": "mma.sync",
            "ptxas": null, "ptxas_skipped": "ptxas not found"}, "dequant": []}"#;
        let line = build_line(Some(j), "");
        assert!(
            line.contains("mma.sync (expected)") && line.contains("TMA: no"),
            "{line}"
        );
        assert!(line.contains("ptxas skipped (ptxas not found)"), "{line}");
    }

    #[test]
    fn the_note_is_short() {
        let j = r#"{"backend": {"scan": {"mma": {"wgmma.mma_async.sync.aligned.m64n128k32.f32.e4m3.e4m3": 4},
            "tma_loads": 4}, "ptxas": {"registers": 255, "spill_stores_bytes": 200, "spill_loads_bytes": 200}}}"#;
        assert_eq!(
            build_note(Some(j)),
            "wgmma m64n128k32 e4m3.e4m3 x4, TMA, 255 regs, 400 B spilled"
        );
        assert_eq!(build_note(None), "see the build line above");
    }

    #[test]
    fn text_report_is_the_fallback() {
        let t = "kernel: k\nmma: wgmma x4\ntma: yes\nptxas: 255 registers\ndequant: fused\nnote: n\n";
        assert_eq!(
            build_line(Some("not json"), t),
            "mma: wgmma x4 | tma: yes | ptxas: 255 registers | dequant: fused"
        );
        assert_eq!(build_line(None, ""), "no build report");
    }
}
