use super::*;

fn repr(x: f64) -> String {
    let mut out = Vec::new();
    push_py_float(&mut out, x);
    String::from_utf8(out).unwrap()
}

#[test]
fn float_repr_matches_python() {
    let cases: &[(f64, &str)] = &[
        (0.1, "0.1"),
        (f64::from(0.1f32), "0.10000000149011612"),
        (1.0, "1.0"),
        (-2.5, "-2.5"),
        (1e16, "1e+16"),
        (1e15, "1000000000000000.0"),
        (123456789012345680.0, "1.2345678901234568e+17"),
        (0.0001, "0.0001"),
        (0.00001, "1e-05"),
        (1.5e-7, "1.5e-07"),
        (1e100, "1e+100"),
        (-1e-300, "-1e-300"),
        (5e-324, "5e-324"),
        (0.0, "0.0"),
        (-0.0, "-0.0"),
        (f64::NAN, "nan"),
        (f64::INFINITY, "inf"),
        (f64::NEG_INFINITY, "-inf"),
        (12345.678, "12345.678"),
        // Ties between two shortest candidates go to the even digit, as in Python.
        (f64::from(-843.6153_f32), "-843.6152954101562"),
        (828407142.25, "828407142.25"),
        (1.5e300, "1.5e+300"),
        (0.000123, "0.000123"),
        (9999999999999998.0, "9999999999999998.0"),
    ];
    for &(x, want) in cases {
        assert_eq!(repr(x), want, "repr({x:e})");
    }
}

#[test]
fn tsv_of_ints_and_bools() {
    let bytes: Vec<u8> = [1i32, -2, 3, 40]
        .iter()
        .flat_map(|v| v.to_ne_bytes())
        .collect();
    let m = RawArray::copy_from(DType::Int32, vec![2, 2], &bytes).unwrap();
    assert_eq!(tsv_bytes(&m), b"1\t-2\n3\t40\n");
    let m = RawArray::copy_from(DType::Bool, vec![1, 2], &[1, 0]).unwrap();
    assert_eq!(tsv_bytes(&m), b"True\tFalse\n");
}

#[test]
fn degenerate_binary_falls_back_to_text() {
    let zeros = RawArray::copy_from(DType::Float32, vec![2, 2], &[0u8; 16]).unwrap();
    assert!(!binary_readable(&zeros));
    let bytes: Vec<u8> = [0.3f32, 0.7, -1.1, 2.9]
        .iter()
        .flat_map(|v| v.to_ne_bytes())
        .collect();
    let m = RawArray::copy_from(DType::Float32, vec![2, 2], &bytes).unwrap();
    assert!(binary_readable(&m));
    assert_eq!(binary_bytes(&m).unwrap().len(), 16);
}

#[test]
fn sprite_layout_is_torchs() {
    let l = SpriteLayout::new(&[100, 3, 10, 32]).unwrap();
    assert_eq!((l.cols, l.rows, l.side), (10, 10, 320));
    let l = SpriteLayout::new(&[5, 1, 4, 4]).unwrap();
    assert_eq!((l.cols, l.rows, l.side), (3, 2, 12));
    assert!(SpriteLayout::new(&[5, 4, 4, 4]).is_err());
    assert!(SpriteLayout::new(&[5, 4, 4]).is_err());
}

#[test]
fn config_text_format() {
    let infos = vec![EmbeddingInfo {
        tensor_name: "a\"b\u{1}\u{2713}:00000".into(),
        metadata_path: "00000/a/metadata.tsv".into(),
        tensor_shape: vec![],
        sprite: Some(("00000/a/sprite.png".into(), [32, 10])),
        tensor_path: "00000/a/tensors.tsv".into(),
    }];
    assert_eq!(
        projector_config_text(&infos),
        "embeddings {\n  tensor_name: \"a\\\"b\\001\u{2713}:00000\"\n  metadata_path: \
         \"00000/a/metadata.tsv\"\n  sprite {\n    image_path: \"00000/a/sprite.png\"\n    \
         single_image_dim: 32\n    single_image_dim: 10\n  }\n  tensor_path: \
         \"00000/a/tensors.tsv\"\n}\n"
    );
}
