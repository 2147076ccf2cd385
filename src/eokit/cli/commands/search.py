"""``eokit search STORE (--like CHIP | --point LON,LAT | --polygon FILE | --vector FILE.npy) -o HITS.parquet``."""

from __future__ import annotations

from pathlib import Path

import click
import numpy as np

from eokit.cli.options import (
    bbox_option,
    configure_logging,
    json_option,
    method_option,
    out_option,
    sensor_option,
    time_range_option,
    verbosity_option,
)
from eokit.errors import EmbeddingError


def _point(ctx: click.Context, param: click.Parameter, value: str | None) -> tuple[float, float] | None:
    if value is None:
        return None
    try:
        lon, lat = (float(v) for v in value.split(","))
    except ValueError:
        raise click.BadParameter(f"{value!r} is not LON,LAT in degrees (e.g. 11.25,45.43)") from None
    if not (-180 <= lon <= 180 and -90 <= lat <= 90):
        raise click.BadParameter(f"{value!r} is outside lon -180..180, lat -90..90; give LON,LAT (lon first)")
    return lon, lat


def _read_geometry(path: str, what: str):  # -> shapely geometry
    """The union of a vector file's geometries, in EPSG:4326."""
    import geopandas as gpd

    try:
        frame = gpd.read_file(path)
    except Exception as exc:  # pyogrio raises DataSourceError and friends
        raise EmbeddingError(f"cannot read {what} {path!r} as a vector file ({exc}); give GeoJSON or GeoPackage") \
            from exc
    if frame.empty:
        raise EmbeddingError(f"{what} {path!r} holds no geometry")
    if frame.crs is not None and not frame.crs.equals("EPSG:4326"):
        frame = frame.to_crs("EPSG:4326")
    return frame.geometry.union_all()


@click.command("search")
@click.argument("store", type=click.Path(exists=True, dir_okay=False))
@click.option("--like", "like", metavar="CHIP_ID", default=None, help="Find chips like this chip of the store.")
@click.option("--point", "point", metavar="LON,LAT", default=None, callback=_point,
              help="Find chips like the ones at this place (EPSG:4326).")
@click.option("--polygon", "polygon", metavar="FILE", default=None, type=click.Path(exists=True, dir_okay=False),
              help="Find chips like the mean of those a polygon (vector file) covers.")
@click.option("--vector", "vector", metavar="FILE.npy", default=None, type=click.Path(exists=True, dir_okay=False),
              help="Find chips like a query vector saved with numpy.save (D values).")
@click.option("--query-store", metavar="FILE", default=None, type=click.Path(exists=True, dir_okay=False),
              help="Take the --like chip from this store instead (same model and weights).")
@bbox_option()
@click.option("--within", metavar="FILE", default=None, type=click.Path(exists=True, dir_okay=False),
              help="Search only chips intersecting the polygons of this vector file.")
@time_range_option()
@click.option("-k", "--top-k", "k", default=10, show_default=True, type=click.IntRange(min=1),
              help="Number of hits.")
@method_option(["auto", "exact", "hnsw", "ivf"])
@click.option("--reindex", is_flag=True, help="Rebuild the approximate index saved beside the store.")
@click.option("--keep-query", is_flag=True, help="Keep the chips the query was made of among the hits.")
@out_option("file", required=True)
@click.option("--mosaic", metavar="PNG", default=None, type=click.Path(dir_okay=False),
              help="Also write a quicklook mosaic of the hits, read from their scenes.")
@click.option("--scene", "scene", multiple=True, metavar="SCENE",
              help="A scene the store was embedded from (file, folder, band-file glob, STAC item), for "
                   "--mosaic; repeat for several.")
@sensor_option()
@json_option()
@verbosity_option()
def command(store: str, like: str | None, point: tuple[float, float] | None, polygon: str | None,
            vector: str | None, query_store: str | None, bbox: tuple[float, ...] | None, within: str | None,
            start: str | None, end: str | None, k: int, method: str, reindex: bool, keep_query: bool, out: str,
            mosaic: str | None, scene: tuple[str, ...], sensor: str | None, as_json: bool,
            verbosity: int) -> None:
    """Write the k chips of STORE most like a query to the GeoParquet OUT, with score and rank.

    Give one query: --like CHIP_ID, --point LON,LAT, --polygon FILE or --vector FILE.npy; limit
    the hits to an area (--bbox, --within) and a time range (--start, --end). --mosaic draws
    the hits from the scenes named by --scene (the ones given to `eokit embed`). --method: auto
    searches exactly up to 50,000 chips and with a FAISS IVF index above; exact, hnsw and ivf force one.
    """
    import shapely

    from eokit.embed.search import (
        hits_mosaic,
        open_index,
        query_from_chip,
        query_from_geometry,
        query_from_vector,
        search,
        write_hits,
    )
    from eokit.embed.store import read_embeddings

    configure_logging(verbosity)
    given = [n for n, v in (("--like", like), ("--point", point), ("--polygon", polygon), ("--vector", vector))
             if v is not None]
    if len(given) != 1:
        raise click.UsageError(f"give exactly one query: --like, --point, --polygon or --vector (got "
                               f"{', '.join(given) or 'none'})")
    if query_store and not like:
        raise click.UsageError("--query-store names where the --like chip is; give --like CHIP_ID with it")
    if bbox and within:
        raise click.UsageError("--bbox and --within both give the area; give one of them")
    st = read_embeddings(store)
    if like is not None:
        q = query_from_chip(st, like, source_store=read_embeddings(query_store) if query_store else None)
    elif point is not None:
        q = query_from_geometry(st, shapely.Point(point))
    elif polygon is not None:
        q = query_from_geometry(st, _read_geometry(polygon, "the --polygon file"))
    else:
        assert vector is not None
        try:
            arr = np.load(vector, allow_pickle=False)
        except (OSError, ValueError) as exc:
            raise EmbeddingError(f"cannot read {vector!r} as a .npy vector ({exc}); save it with numpy.save") from exc
        q = query_from_vector(st, arr, source=f"the vector in {vector!r}")
    area = tuple(bbox) if bbox else _read_geometry(within, "the --within file") if within else None
    index = open_index(st, method, rebuild=reindex)
    hits = search(st, q, k, area=area, start=start, end=end, index=index, keep_query=keep_query)
    write_hits(out, hits)
    missing: list[str] = []
    if mosaic:
        _, missing = hits_mosaic(hits, mosaic, scenes=list(scene) or None, store_path=store, sensor=sensor)
    if as_json:
        import json

        click.echo(json.dumps({"hits": len(hits), "out": out, "method": index.method, "query": q.source,
                               "chip_id": hits["chip_id"].tolist(), "score": [round(float(s), 6) for s in
                                                                             hits["score"]]}))
        return
    if verbosity >= 0 and len(hits):
        click.echo("rank  cosine  chip  scene")  # score: cosine similarity of unit vectors, 1 = same direction
        for _, h in hits.iterrows():
            click.echo(f"{h['rank']:>3}  {h['score']:.4f}  {h['chip_id']}  {h['scene_id']}")
    click.echo(f"{len(hits)} hits ({index.method} search of {len(st)} chips, query: {q.source}) -> {out}")
    if mosaic:
        note = f"; {len(missing)} hit(s) drawn grey (scene not readable)" if missing else ""
        click.echo(f"mosaic -> {Path(mosaic)}{note}")
