//! `.npy` round trips for every dtype (FP4 with its packed axis halved in the file), files numpy
//! wrote (via the Python oracle's conventions, built by hand here), and coded errors for mismatched
//! dtype, shape or layout.

use tessera_ir::DType;
use tessera_numerics::npy::{npy_descr, npy_shape};
use tessera_numerics::{InputGen, from_npy_bytes, read_npy, to_npy_bytes, write_npy};

/// A minimal numpy-style v1.0 header, written independently of npyz.
fn numpy_file(descr: &str, shape: &[usize], fortran: bool, data: &[u8]) -> Vec<u8> {
    let dims: Vec<String> = shape.iter().map(|d| d.to_string()).collect();
    let shape_s = if dims.len() == 1 {
        format!("({},)", dims[0])
    } else {
        format!("({})", dims.join(", "))
    };
    let mut h = format!(
        "{{'descr': '{descr}', 'fortran_order': {}, 'shape': {shape_s}, }}",
        if fortran { "True" } else { "False" }
    );
    while (10 + h.len() + 1) % 64 != 0 {
        h.push(' ');
    }
    h.push('\n');
    let mut out = b"\x93NUMPY\x01\x00".to_vec();
    out.extend_from_slice(&(h.len() as u16).to_le_bytes());
    out.extend_from_slice(h.as_bytes());
    out.extend_from_slice(data);
    out
}

#[test]
fn every_dtype_round_trips_through_npy_bytes() {
    let mut g = InputGen::new(11);
    for d in DType::ALL {
        let packed = (d == DType::F4E2M1).then_some(0);
        let buf = g.plain(d, &[5, 3], packed).unwrap_or_else(|e| panic!("{d}: {e}"));
        let bytes = to_npy_bytes(&buf).expect("write");
        let back = from_npy_bytes(&bytes, "t.npy", d, Some(&[5, 3]), packed).expect("read");
        assert_eq!(back, buf, "{d}");
        // Without an expected shape the file's own shape is used (FP4: doubled along the axis).
        let back = from_npy_bytes(&bytes, "t.npy", d, None, packed).expect("read");
        let want_shape = if d == DType::F4E2M1 {
            vec![6, 3]
        } else {
            vec![5, 3]
        };
        assert_eq!(back.shape, want_shape, "{d}");
    }
}

#[test]
fn reads_files_in_numpys_own_layout() {
    let data: Vec<u8> = [1.5f32, -2.0].iter().flat_map(|v| v.to_le_bytes()).collect();
    let f = numpy_file("<f4", &[2], false, &data);
    let b = from_npy_bytes(&f, "x.npy", DType::F32, Some(&[2]), None).expect("read");
    assert_eq!(b.bytes, data);
    // FP4 [2, 4] packed along axis 1 is stored as uint8 [2, 2].
    let f = numpy_file("|u1", &[2, 2], false, &[0x21, 0x43, 0x65, 0x07]);
    let b = from_npy_bytes(&f, "w.npy", DType::F4E2M1, Some(&[2, 4]), Some(1)).expect("read");
    assert_eq!(b.shape, vec![2, 4]);
    assert_eq!(npy_shape(DType::F4E2M1, &[2, 3], Some(1)), vec![2, 2]);
    assert_eq!(npy_descr(DType::BF16), "<u2");
}

#[test]
fn mismatches_are_coded_errors_naming_file_expected_and_found() {
    let f = numpy_file("<f4", &[2, 2], false, &[0; 16]);
    let e = from_npy_bytes(&f, "a.npy", DType::BF16, Some(&[2, 2]), None).expect_err("dtype");
    assert_eq!(e.code, "E0501");
    assert!(
        e.message.contains("a.npy") && e.message.contains("<u2") && e.message.contains("<f4"),
        "{}",
        e.message
    );
    let e = from_npy_bytes(&f, "a.npy", DType::F32, Some(&[4]), None).expect_err("shape");
    assert_eq!(e.code, "E0502");
    assert!(
        e.message.contains("[4]") && e.message.contains("[2, 2]"),
        "{}",
        e.message
    );
    let f = numpy_file("<f4", &[2, 2], true, &[0; 16]);
    assert_eq!(
        from_npy_bytes(&f, "a.npy", DType::F32, None, None)
            .expect_err("fortran")
            .code,
        "E0503"
    );
    let f = numpy_file("<f4", &[2, 2], false, &[0; 12]);
    assert_eq!(
        from_npy_bytes(&f, "a.npy", DType::F32, None, None)
            .expect_err("truncated")
            .code,
        "E0503"
    );
    assert_eq!(
        from_npy_bytes(b"not npy", "a.npy", DType::F32, None, None)
            .expect_err("junk")
            .code,
        "E0503"
    );
    let f = numpy_file("|u1", &[2], false, &[0; 2]);
    assert_eq!(
        from_npy_bytes(&f, "a.npy", DType::F4E2M1, None, None)
            .expect_err("axis")
            .code,
        "E0503"
    );
}

/// Header shapes are user data: a dim product that overflows (npyz would panic multiplying it) or
/// an FP4 packed extent that doubles past `usize::MAX` is a coded error, not a panic.
#[test]
fn shapes_too_large_for_a_host_buffer_are_coded_errors() {
    let huge = [1usize << 32, 1 << 32, 1 << 32];
    let f = numpy_file("<f4", &huge, false, &[0; 16]);
    let e = from_npy_bytes(&f, "big.npy", DType::F32, None, None).expect_err("overflowing product");
    assert_eq!(e.code, "E0503");
    assert!(
        e.message.contains("big.npy") && e.message.contains("too many elements"),
        "{}",
        e.message
    );
    let f = numpy_file("|u1", &[usize::MAX / 2 + 1], false, &[0; 4]);
    let e = from_npy_bytes(&f, "fp4.npy", DType::F4E2M1, None, Some(0)).expect_err("doubled extent");
    assert!(matches!(e.code, "E0502" | "E0503"), "{e}");
    let e = tessera_numerics::checked_numel(&[usize::MAX, 2]).expect_err("overflow");
    assert_eq!(e.code, "E0502");
    assert_eq!(tessera_numerics::checked_numel(&[3, 0, 5]), Ok(0));
    assert_eq!(tessera_numerics::checked_numel(&[]), Ok(1));
}

#[test]
fn files_on_disk_round_trip() {
    let dir = std::env::temp_dir().join(format!("tessera-npy-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("tmp dir");
    let p = dir.join("x.npy");
    let buf = InputGen::new(3).plain(DType::F8E4M3, &[4, 8], None).expect("gen");
    write_npy(&p, &buf).expect("write");
    assert_eq!(
        read_npy(&p, DType::F8E4M3, Some(&[4, 8]), None).expect("read"),
        buf
    );
    assert_eq!(
        read_npy(&dir.join("missing.npy"), DType::F32, None, None)
            .expect_err("missing")
            .code,
        "E0503"
    );
    std::fs::remove_dir_all(&dir).ok();
}

/// F07: a device, a FIFO or a directory is refused at once, before anything is read.
#[test]
fn non_regular_files_are_refused_without_reading() {
    let t = std::time::Instant::now();
    for p in ["/dev/zero", "/dev/urandom"] {
        if std::path::Path::new(p).exists() {
            let e = read_npy(std::path::Path::new(p), DType::F32, None, None).expect_err(p);
            assert_eq!(e.code, "E0509", "{p}: {e}");
            assert!(e.message.contains("not a regular file"), "{e}");
        }
    }
    let dir = std::env::temp_dir();
    let e = read_npy(&dir, DType::F32, None, None).expect_err("dir");
    assert_eq!(e.code, "E0509");
    assert!(e.message.contains("a directory"), "{e}");
    // A FIFO with no writer: opening it would block, so it must be refused by its metadata.
    let fifo = dir.join(format!("tessera-npy-fifo-{}", std::process::id()));
    let _ = std::fs::remove_file(&fifo);
    if std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .is_ok_and(|s| s.success())
    {
        let e = read_npy(&fifo, DType::F32, None, None).expect_err("fifo");
        assert_eq!(e.code, "E0509", "{e}");
        std::fs::remove_file(&fifo).unwrap();
    }
    assert!(t.elapsed().as_secs() < 5, "took {:?}", t.elapsed());
    // A regular file is still read, through a symlink too.
    let data: Vec<u8> = [1.5f32, -2.0].iter().flat_map(|v| v.to_le_bytes()).collect();
    let f = dir.join(format!("tessera-npy-regular-{}.npy", std::process::id()));
    std::fs::write(&f, numpy_file("<f4", &[2], false, &data)).unwrap();
    let b = read_npy(&f, DType::F32, Some(&[2]), None).expect("regular");
    assert_eq!(b.bytes, data);
    std::fs::remove_file(&f).unwrap();
}

/// docs/NUMERICS.md, "FP4 in .npy files": FP4 is stored as uint8 (`|u1`), two codes per byte
/// along the packed axis only, element 2i in the low nibble and 2i+1 in the high nibble; the file's
/// shape is the logical shape with the packed axis halved (rounded up; an odd extent leaves the
/// last high nibble 0). A hand-built array decodes exactly as documented.
#[test]
fn hand_packed_fp4_decodes_as_documented() {
    // e2m1 codes: 0 -> 0, 1 -> 0.5, 2 -> 1, 3 -> 1.5, 4 -> 2, 5 -> 3, 6 -> 4, 7 -> 6, 8+c -> -(c).
    // Logical [2, 3] packed along axis 1 (K-major weights): file [2, 2].
    let f = numpy_file("|u1", &[2, 2], false, &[0x21, 0x03, 0x4C, 0x07]);
    let b = from_npy_bytes(&f, "w.npy", DType::F4E2M1, Some(&[2, 3]), Some(1)).expect("read");
    let v = tessera_numerics::decode_buf_f64(&b).expect("decode");
    assert_eq!(v, vec![0.5, 1.0, 1.5, -2.0, 2.0, 6.0]);
    // Logical [3, 2] packed along axis 0: file [2, 2]; byte (i, j) holds elements (2i, j) low and
    // (2i + 1, j) high.
    let f = numpy_file("|u1", &[2, 2], false, &[0x21, 0x43, 0x05, 0x06]);
    let b = from_npy_bytes(&f, "w.npy", DType::F4E2M1, Some(&[3, 2]), Some(0)).expect("read");
    let v = tessera_numerics::decode_buf_f64(&b).expect("decode");
    assert_eq!(v, vec![0.5, 1.5, 1.0, 2.0, 3.0, 4.0]);
}

/// Finding F15: fp6 codes with bits 6-7 set (0xC8, 0xFF, 0x40) used to be masked to 6 bits
/// silently; they are E0510 naming the element. Valid codes (0x00..=0x3f) still read.
#[test]
fn fp6_bytes_that_are_not_codes_are_refused() {
    for d in [DType::F6E2M3, DType::F6E3M2] {
        for bad in [0xC8u8, 0xFF, 0x40] {
            let data = [0x01, 0x3f, bad, 0x00];
            let e = from_npy_bytes(
                &numpy_file("|u1", &[2, 2], false, &data),
                "a.npy",
                d,
                Some(&[2, 2]),
                None,
            )
            .expect_err("refused");
            assert_eq!(e.code, "E0510", "{e}");
            assert!(
                e.message.contains("a.npy") && e.message.contains("element 2"),
                "{e}"
            );
        }
        let ok = [0x00u8, 0x3f, 0x20, 0x01];
        from_npy_bytes(
            &numpy_file("|u1", &[2, 2], false, &ok),
            "a.npy",
            d,
            Some(&[2, 2]),
            None,
        )
        .expect("valid codes");
    }
    let e = from_npy_bytes(
        &numpy_file("|u1", &[2], false, &[0, 2]),
        "m.npy",
        DType::I1,
        Some(&[2]),
        None,
    )
    .expect_err("i1 is 0 or 1");
    assert_eq!(e.code, "E0510", "{e}");
}

#[test]
fn the_findings_fp6_file_is_refused() {
    let p = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/findings/reliability-2026-12/F15_fp6_invalid_codes_silently_masked/a.npy");
    let Ok(bytes) = std::fs::read(&p) else {
        return; // not part of the repository; the test above covers the rule
    };
    let e = from_npy_bytes(&bytes, "a.npy", DType::F6E2M3, None, None).expect_err("refused");
    assert_eq!(e.code, "E0510", "{e}");
}
