def execute_command(image, my_fig, time_wait_between_lines, syntax):
    # Question: Which is closer to the camera, the square or the star?
    # Answer "square" or "star", or "N/A" if one of them is missing.
    image_patch = ImagePatch(image)
    square_patches = image_patch.find("square")
    star_patches = image_patch.find("star")
    if len(square_patches) == 0 or len(star_patches) == 0:
        return "N/A"
    # compute_depth: the median depth of the crop, smaller is closer
    square_depth = square_patches[0].compute_depth()
    star_depth = star_patches[0].compute_depth()
    if square_depth < star_depth:
        return "square"
    return "star"
