//! Charts save to SVG and PNG; the PNG is a real picture of the chart.
use smalldata::evaluate;
use smalldata::plot;

#[test]
fn roc_and_confusion_save_as_svg_and_png() {
    let dir = tempfile::tempdir().unwrap();
    let y = [0i64, 1, 2, 0, 1, 2, 0, 1, 2];
    let p = ndarray::array![
        [0.7, 0.2, 0.1], [0.2, 0.6, 0.2], [0.1, 0.3, 0.6],
        [0.4, 0.4, 0.2], [0.5, 0.3, 0.2], [0.2, 0.2, 0.6],
        [0.6, 0.3, 0.1], [0.1, 0.8, 0.1], [0.3, 0.4, 0.3]
    ];
    let (curves, macro_avg) = evaluate::roc_curves_per_class(&y, p.view()).unwrap();
    let mut named: Vec<_> = curves.into_iter().enumerate().map(|(c, r)| (format!("class {c}"), r)).collect();
    named.push(("macro average".into(), macro_avg));
    let fig = plot::roc_chart("ROC", &named).unwrap();
    fig.save(dir.path().join("roc.svg")).unwrap();
    fig.save(dir.path().join("roc.png")).unwrap();
    let img = image::open(dir.path().join("roc.png")).unwrap().to_rgb8();
    // not blank: some dark pixels (axes, text, curves) on the white background
    assert!(img.pixels().filter(|p| p.0.iter().all(|&c| c < 100)).count() > 500);
    assert!(std::fs::read_to_string(dir.path().join("roc.svg")).unwrap().starts_with("<svg"));
    assert!(fig.save(dir.path().join("roc.jpg")).is_err());

    let pred: Vec<i64> = p.rows().into_iter().map(|r| r.iter().enumerate().max_by(|a, b| a.1.total_cmp(b.1)).unwrap().0 as i64).collect();
    let cm = evaluate::confusion_matrix(&y, &pred, 3).unwrap();
    let names: Vec<String> = ["a", "b", "c"].iter().map(|s| s.to_string()).collect();
    plot::confusion_heatmap("confusion", &cm, &names).unwrap().save(dir.path().join("cm.png")).unwrap();
}
